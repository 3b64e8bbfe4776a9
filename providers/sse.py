"""Server-sent events and newline-delimited JSON, read from an httpx streaming response."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

__all__ = ["ServerSentEvent", "sse_events", "ndjson_lines"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str | None
    data: str


async def sse_events(response: httpx.Response) -> AsyncIterator[ServerSentEvent]:
    """Events separated by a blank line; '\\n' and '\\r\\n' line endings alike (Gemini sends the latter)."""
    event: str | None = None
    data: list[str] = []
    async for line in response.aiter_lines():
        line = line.rstrip("\r")
        if not line:
            if data:
                yield ServerSentEvent(event, "\n".join(data))
            event, data = None, []
        elif line.startswith(":"):
            continue  # a comment, used as keep-alive
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
    if data:
        yield ServerSentEvent(event, "\n".join(data))


async def ndjson_lines(response: httpx.Response) -> AsyncIterator[str]:
    async for line in response.aiter_lines():
        if line.strip():
            yield line
