"""Collects a streamed answer into a ChatResult: text, tool calls, timing, and usage that is never zero.

When a stream carries no usage (OpenAI without stream_options.include_usage, or a server that
ignores it), tokens are estimated from the text at about 4 characters a token, and the result
says usage_estimated=True. A stream is never recorded as free.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from providers.errors import ProviderUnavailable
from providers.finish import normalized
from providers.types import ChatRequest, ChatResult, FinishReason, StreamChunk, ToolCall, ToolCallDelta, Usage

__all__ = ["StreamAccumulator", "estimate_tokens", "cut_short"]


def cut_short(provider: str, end: str) -> ProviderUnavailable:
    """A stream whose connection closed before its end event: the text may not be all there, so it
    is a failure (retryable before any piece went out), never a short answer."""
    return ProviderUnavailable(f"{provider} stream ended before its {end}: the connection was cut", provider=provider)


def estimate_tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


@dataclass
class _CallSoFar:
    index: int  # as OpenAI numbers the calls of one answer: in the order they began
    id: str = ""
    name: str = ""
    arguments: str = ""


class StreamAccumulator:
    """`finish_words`: the family's finish words, normalized (providers/finish.py)."""

    def __init__(self, request: ChatRequest, finish_words: Mapping[str, FinishReason] | None = None):
        self._request = request
        self._finish_words = finish_words or {}
        self._started = time.perf_counter()
        self._first: float | None = None
        self._parts: list[str] = []
        self._calls: dict[object, _CallSoFar] = {}  # by the family's key for a call, in the order they began
        self._pieces = 0
        self.usage: Usage | None = None
        self.response_model = ""
        self.finish_reason: str | None = None  # the family's own word

    @property
    def pieces(self) -> int:
        """How many non-empty deltas (text or tool-call fragments) were recorded."""
        return self._pieces

    def _began(self) -> None:
        if self._first is None:
            self._first = time.perf_counter()
        self._pieces += 1

    def text(self, delta: str) -> StreamChunk | None:
        """Record a text delta; return the chunk to hand to the caller (None for empty deltas)."""
        if not delta:
            return None
        self._began()
        self._parts.append(delta)
        return StreamChunk(text=delta)

    def tool(self, key: object, *, id: str | None = None, name: str | None = None,  # noqa: A002 - the wire's word
             arguments: str = "") -> StreamChunk | None:
        """Record a piece of a tool call. `key` is whatever the family tells its calls apart by (a block
        index, a call index); the caller sees calls numbered 0, 1, ... in the order they began, as
        OpenAI numbers them."""
        if key not in self._calls:
            self._calls[key] = _CallSoFar(index=len(self._calls))
        elif not (id or name or arguments):
            return None
        call = self._calls[key]
        call.id = call.id or id or ""
        call.name = call.name or name or ""
        call.arguments += arguments
        self._began()
        return StreamChunk(tool_call=ToolCallDelta(index=call.index, id=id, name=name, arguments=arguments))

    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(ToolCall(id=c.id, name=c.name, arguments=c.arguments or "{}") for c in self._calls.values())

    def finish(self) -> StreamChunk:
        ended = time.perf_counter()
        content = "".join(self._parts)
        calls = self.tool_calls()
        estimated = self.usage is None or (self.usage.input_tokens == 0 and self.usage.output_tokens == 0)
        usage = self.usage
        if estimated:
            prompt = "".join(m.text for m in self._request.messages)
            produced = content + "".join(c.name + c.arguments for c in calls)
            usage = Usage(input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(produced))
        first = self._first if self._first is not None else ended
        return StreamChunk(
            result=ChatResult(
                content=content,
                usage=usage,
                ttft_ms=(first - self._started) * 1000,
                total_ms=(ended - self._started) * 1000,
                response_model=self.response_model,
                finish_reason=normalized(self.finish_reason, self._finish_words, tool_calls=bool(calls)),
                provider_finish_reason=self.finish_reason,
                tool_calls=calls,
                usage_estimated=estimated,
            )
        )
