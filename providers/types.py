"""The values that cross the provider interface: what we ask a model, and what comes back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Message", "ChatRequest", "Usage", "ChatResult", "StreamChunk", "EmbedResult", "BatchJob"]

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatRequest:
    """One call to one model. `model` is the id sent on the wire (the catalog's api_model)."""

    model: str
    messages: tuple[Message, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    # Ties a simulated result to its request, so the simulated provider is deterministic.
    request_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatResult:
    content: str
    usage: Usage
    ttft_ms: float
    total_ms: float
    response_model: str = ""
    finish_reason: str | None = None
    simulated: bool = False
    # True when the provider reported no usage and the tokens were estimated from the text.
    usage_estimated: bool = False

    @property
    def tokens_per_second(self) -> float:
        """Output tokens over generation time (after the first token), or over the whole call."""
        generating_ms = self.total_ms - self.ttft_ms if self.total_ms > self.ttft_ms else self.total_ms
        return self.usage.output_tokens / (generating_ms / 1000) if generating_ms > 0 else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamChunk:
    """One piece of a streamed answer. The last chunk carries the whole result and no text."""

    text: str = ""
    result: ChatResult | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbedResult:
    vectors: list[list[float]]
    usage: Usage
    total_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchJob:
    """A provider-side batch: its id, the provider's own status word, and its request counts."""

    provider: str
    id: str
    status: str
    request_counts: dict[str, int]
