"""The values that cross the provider interface: what we ask a model, and what comes back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Message", "ChatRequest", "Usage", "ChatResult"]

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
    extra: dict = field(default_factory=dict)
