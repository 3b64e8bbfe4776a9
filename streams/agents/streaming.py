"""A streamed provider call inside the worker: relay each piece as it comes, stop when the caller leaves.

What a stream may end in, besides its result:
  StreamInterrupted  the provider failed after the first piece went out. Not retried and not
                     handed to a fallback: the caller has one model's text already, and a second
                     model's would be spliced onto it. The pieces produced so far are billed.
  StreamCancelled    the caller stopped reading (StreamCancel on llm.stream-cancels). The provider
                     call is closed, and the pieces produced so far are billed.

Both carry `partial`: the text so far, with its tokens counted from the text (usage_estimated).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from providers import ChatRequest, ChatResult, FatalError, ProviderError, StreamChunk
from providers.streaming import StreamAccumulator
from streams.events import StreamDelta, ToolCallFragment

__all__ = ["StreamInterrupted", "StreamCancelled", "DeltaRelay", "StreamCancels", "stream_call", "Send"]

log = logging.getLogger(__name__)

# A cancel that arrives before its request is served here is kept this long, then forgotten.
EARLY_CANCEL_TTL_S = 300.0

# Hands a record to a producer; returns the future of its delivery.
Send = Callable[[str, bytes, bytes], Awaitable["asyncio.Future[object]"]]


class StreamInterrupted(ProviderError):
    """Neither retryable nor fatal: the breaker counts it as a failure, and nothing else is tried."""

    code = "stream_interrupted"

    def __init__(self, cause: ProviderError, partial: ChatResult, pieces: int):
        super().__init__(f"the provider failed after {pieces} streamed pieces: {cause.message}",
                         provider=cause.provider, status=cause.status)
        self.partial = partial


class StreamCancelled(FatalError):
    """Fatal, so the breaker sees a healthy provider and no other model is tried."""

    code = "client_cancelled"

    def __init__(self, partial: ChatResult, pieces: int):
        super().__init__(f"the caller stopped reading the stream after {pieces} pieces")
        self.partial = partial


class DeltaRelay:
    """Publishes one request's pieces on its reply topic, numbered, outside any transaction."""

    def __init__(self, send: Send, *, topic: str, request_id: str, monotonic: Callable[[], float] = time.perf_counter):
        self._send = send
        self._topic = topic
        self._request_id = request_id
        self._monotonic = monotonic
        self.stream_id = uuid.uuid4().hex
        self.pieces = 0
        self.first_at: float | None = None  # when the first piece reached this worker
        self._deliveries: list[asyncio.Future[object]] = []
        self._lost = 0

    async def relay(self, chunk: StreamChunk, *, model: str, provider: str) -> None:
        """Publish a piece of text, or of a tool call."""
        if self.first_at is None:
            self.first_at = self._monotonic()
        call = chunk.tool_call
        fragment = (ToolCallFragment(index=call.index, id=call.id, name=call.name, arguments=call.arguments)
                    if call is not None else None)
        delta = StreamDelta(request_id=self._request_id, stream_id=self.stream_id, index=self.pieces, text=chunk.text,
                            tool_call=fragment, model=model, provider=provider)
        self.pieces += 1
        try:
            self._deliveries.append(await self._send(self._topic, self._request_id.encode(), delta.to_bytes()))
        except Exception as exc:  # noqa: BLE001 - a lost piece is filled in from the answer; the call goes on
            self._lost += 1
            if self._lost == 1:
                log.warning("a stream piece of %s could not be sent (%s); the answer carries the whole text",
                            self._request_id, type(exc).__name__)

    async def flush(self) -> None:
        """Wait until every piece is on the broker, so none lands after the answer. A piece that failed
        is only logged: the answer holds the whole text, and readers fill in from it."""
        results = await asyncio.gather(*self._deliveries, return_exceptions=True)
        self._deliveries.clear()
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            log.warning("%d of %d stream pieces of %s were not delivered (%s); the answer carries the whole text",
                        len(failed), len(results), self._request_id, type(failed[0]).__name__)


class StreamCancels:
    """The requests whose callers stopped reading, as this worker heard of them on llm.stream-cancels."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self._watching: dict[str, asyncio.Event] = {}
        self._early: dict[str, float] = {}  # cancelled before they were served here
        self._monotonic = monotonic

    def watch(self, request_id: str) -> asyncio.Event:
        event = self._watching.setdefault(request_id, asyncio.Event())
        if self._early.pop(request_id, None) is not None:
            event.set()
        return event

    def forget(self, request_id: str) -> None:
        self._watching.pop(request_id, None)

    def cancel(self, request_id: str) -> None:
        event = self._watching.get(request_id)
        if event is not None:
            event.set()
            return
        now = self._monotonic()
        self._early = {rid: at for rid, at in self._early.items() if now - at < EARLY_CANCEL_TTL_S}
        self._early[request_id] = now


async def stream_call(chunks: AsyncIterator[StreamChunk], call: ChatRequest, cancelled: asyncio.Event,
                      relay: Callable[[StreamChunk], Awaitable[None]]) -> ChatResult:
    """Consume a provider's stream, relaying each piece (text or tool-call fragment); its result, or
    StreamInterrupted / StreamCancelled."""
    seen = StreamAccumulator(call)

    async def consume() -> ChatResult:
        async for chunk in chunks:
            if chunk.result is not None:
                return chunk.result
            if (call_piece := chunk.tool_call) is not None:
                recorded = seen.tool(call_piece.index, id=call_piece.id, name=call_piece.name,
                                     arguments=call_piece.arguments)
            else:
                recorded = seen.text(chunk.text)
            if recorded is not None:
                await relay(chunk)
        raise ProviderError("the stream ended without a result")  # pragma: no cover - every adapter ends with one

    consuming = asyncio.ensure_future(consume())
    leaving = asyncio.ensure_future(cancelled.wait())
    try:
        await asyncio.wait({consuming, leaving}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        leaving.cancel()
        if not consuming.done():  # the caller left, or this task was cancelled: close the provider call
            consuming.cancel()
            await asyncio.gather(consuming, return_exceptions=True)
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
    if not consuming.cancelled():
        try:
            return consuming.result()
        except ProviderError as exc:
            if seen.pieces:
                raise StreamInterrupted(exc, _partial(seen), seen.pieces) from exc
            raise
    raise StreamCancelled(_partial(seen), seen.pieces)


def _partial(seen: StreamAccumulator) -> ChatResult:
    result = seen.finish().result
    assert result is not None
    return result
