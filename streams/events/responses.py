"""What the request agent sends back: a response per request, or a dead letter for an event it cannot serve."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

from pydantic import Field

from streams.events.agent_parts import ToolCall, ToolCallFragment
from streams.events.base import Event, RequestId, utcnow

__all__ = ["TokenUsage", "Latency", "Attempt", "ErrorInfo", "LLMResponse", "StreamDelta", "DeadLetter"]


class TokenUsage(Event):
    """Tokens as the provider bills them. input_tokens counts every input token; cached_input_tokens and
    cache_write_tokens are the parts of it read from and written to the provider's prompt cache
    (cache_write_1h_tokens: the writes at the one-hour rate); reasoning_tokens is the part of
    output_tokens spent thinking."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0


class Latency(Event):
    ttft: float | None = None
    total: float = 0.0


class Attempt(Event):
    model: str
    provider: str
    status: Literal["ok", "error"]
    latency_ms: float
    error_code: str | None = None
    # The provider's own word for how the answer ended (end_turn, MAX_TOKENS, COMPLETE, ...).
    provider_finish_reason: str | None = None


class ErrorInfo(Event):
    code: str
    message: str


class LLMResponse(Event):
    request_id: RequestId
    status: Literal["ok", "error", "rejected"]
    model: str | None = None
    provider: str | None = None
    content: str | None = None
    # The functions the model called; the caller runs them and sends their results as tool turns.
    tool_calls: list[ToolCall] = []
    # stop, length (cut by max_tokens), tool_calls or content_filter, whichever family answered.
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter"] | None = None
    usage: TokenUsage = TokenUsage()
    # An embedding request's vectors, in input order, in the vector space of `model`: vectors of two
    # models are not comparable, so a caller that stores them keeps the model with them.
    embeddings: list[list[float]] = []
    cost_usd: float = 0.0
    latency_ms: Latency = Latency()
    attempts: list[Attempt] = []
    error: ErrorInfo | None = None
    simulated: bool = False
    # Answered from the response cache, or by an identical request in flight (then cost_usd is 0).
    cache_hit: bool = False
    responded_at: datetime = Field(default_factory=utcnow)
    # The provider reported no usage (a stream without it, a cancelled stream): the tokens were
    # counted from the text, at about 4 characters a token, and cost_usd is priced on that count.
    usage_estimated: bool = False
    # Set on the answer to a streamed request: the stream_id of the StreamDelta events it completes.
    stream_id: str | None = None


class StreamDelta(Event):
    """A piece of a streamed answer, on the request's reply topic while the provider call runs.

    Sent outside the answer's transaction, so a reader sees it at once; the LLMResponse that follows
    is the record of truth. `index` counts from 0 within one `stream_id`: a gap means pieces were
    lost, and a new stream_id means the request is being answered again (its worker stopped).
    """

    event_type: Literal["stream_delta"] = "stream_delta"
    request_id: RequestId
    stream_id: str
    index: int = Field(ge=0)
    text: str = ""
    # A piece of a tool call instead of text: the first piece of a call has its id and name.
    tool_call: ToolCallFragment | None = None
    model: str
    provider: str


class DeadLetter(Event):
    reason: str
    source_topic: str
    partition: int
    offset: int
    received_at: datetime = Field(default_factory=utcnow)
    request_id: str | None = None
    # The original bytes, so nothing is lost and the event can be replayed once fixed.
    payload_b64: str

    @classmethod
    def of(cls, raw: bytes, reason: str, *, topic: str, partition: int, offset: int, request_id: str | None) -> DeadLetter:
        return cls(
            reason=reason,
            source_topic=topic,
            partition=partition,
            offset=offset,
            request_id=request_id,
            payload_b64=base64.b64encode(raw).decode("ascii"),
        )
