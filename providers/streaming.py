"""Collects a streamed answer into a ChatResult: text, timing, and usage that is never zero.

When a stream carries no usage (OpenAI without stream_options.include_usage, or a server that
ignores it), tokens are estimated from the text at about 4 characters a token, and the result
says usage_estimated=True. A stream is never recorded as free.
"""

from __future__ import annotations

import time

from providers.errors import ProviderUnavailable
from providers.types import ChatRequest, ChatResult, StreamChunk, Usage

__all__ = ["StreamAccumulator", "estimate_tokens", "cut_short"]


def cut_short(provider: str, end: str) -> ProviderUnavailable:
    """A stream whose connection closed before its end event: the text may not be all there, so it
    is a failure (retryable before any piece went out), never a short answer."""
    return ProviderUnavailable(f"{provider} stream ended before its {end}: the connection was cut", provider=provider)


def estimate_tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


class StreamAccumulator:
    def __init__(self, request: ChatRequest):
        self._request = request
        self._started = time.perf_counter()
        self._first: float | None = None
        self._parts: list[str] = []
        self.usage: Usage | None = None
        self.response_model = ""
        self.finish_reason: str | None = None

    @property
    def pieces(self) -> int:
        """How many non-empty text deltas were recorded."""
        return len(self._parts)

    def text(self, delta: str) -> StreamChunk | None:
        """Record a text delta; return the chunk to hand to the caller (None for empty deltas)."""
        if not delta:
            return None
        if self._first is None:
            self._first = time.perf_counter()
        self._parts.append(delta)
        return StreamChunk(text=delta)

    def finish(self) -> StreamChunk:
        ended = time.perf_counter()
        content = "".join(self._parts)
        estimated = self.usage is None or (self.usage.input_tokens == 0 and self.usage.output_tokens == 0)
        usage = self.usage
        if estimated:
            prompt = "".join(m.content for m in self._request.messages)
            usage = Usage(input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(content))
        first = self._first if self._first is not None else ended
        return StreamChunk(
            result=ChatResult(
                content=content,
                usage=usage,
                ttft_ms=(first - self._started) * 1000,
                total_ms=(ended - self._started) * 1000,
                response_model=self.response_model,
                finish_reason=self.finish_reason,
                usage_estimated=estimated,
            )
        )
