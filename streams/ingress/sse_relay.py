"""One streamed answer relayed to an HTTP caller as server-sent events, in whichever API's framing.

Shared by the chat-completions and Messages endpoints: they differ only in their frames. A failure
before the first piece is an HTTP error (as without streaming); after it, the status is already 200,
so the stream ends with the framing's error event. A caller that hangs up cancels the provider call
(leaving `client.stream` early sends the cancel), which is billed for what it produced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import aclosing
from typing import Protocol

import faust
from aiohttp import web as aioweb

from streams.client.reply_client import ReplyClient, ResponseTimeout
from streams.client.stream_follow import StreamDiverged, StreamFollower
from streams.events import LLMRequest, LLMResponse, ToolCallFragment

__all__ = ["Frames", "relay_stream"]

log = logging.getLogger(__name__)


class Frames(Protocol):
    def opening(self, first: str | ToolCallFragment | LLMResponse, model: str | None) -> list[bytes]: ...
    def piece(self, piece: str | ToolCallFragment) -> list[bytes]: ...
    def end(self, response: LLMResponse) -> list[bytes]: ...
    def error(self, message: str, code: str) -> list[bytes]: ...


async def relay_stream(request: aioweb.Request, client: ReplyClient, event: LLMRequest, frames: Frames, *,
                       timeout: float, timed_out: Callable[[], faust.web.Response],
                       failed: Callable[[LLMResponse], faust.web.Response]) -> faust.web.Response | aioweb.StreamResponse:
    follower = StreamFollower()  # its first piece names the model answering, before the answer does
    async with aclosing(client.stream(event, timeout=timeout, follower=follower)) as pieces:
        try:
            item = await anext(pieces)
        except ResponseTimeout:
            return timed_out()
        if isinstance(item, LLMResponse) and item.status != "ok":
            return failed(item)
        sse = aioweb.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await sse.prepare(request)
        try:
            for frame in frames.opening(item, item.model if isinstance(item, LLMResponse) else follower.model):
                await sse.write(frame)
            while not isinstance(item, LLMResponse):
                for frame in frames.piece(item):
                    await sse.write(frame)
                item = await anext(pieces)
            if item.status == "ok":
                ending = frames.end(item)
            else:
                error = item.error
                ending = frames.error(error.message if error else item.status, error.code if error else item.status)
        except ResponseTimeout:
            ending = frames.error(f"no stream event within {timeout:g}s", "timeout")
        except StreamDiverged as exc:
            ending = frames.error(str(exc), "stream_diverged")
        except ConnectionError:  # the caller hung up: leaving the block cancels the call
            log.info("the caller of %s hung up mid-stream", event.request_id)
            return sse
        for frame in ending:
            await sse.write(frame)
        await sse.write_eof()
        return sse
