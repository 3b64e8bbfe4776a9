"""The values that cross the provider interface: what we ask a model, and what comes back.

They name what a request means (a tool, a tool call, an image), never how one family spells it:
each family's module translates them both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Role", "TextPart", "ImagePart", "Part", "ToolCall", "Message", "Tool", "ToolChoice", "ResponseFormat",
    "ChatRequest", "Usage", "FinishReason", "ChatResult", "ToolCallDelta", "StreamChunk", "EmbedResult", "BatchJob",
]

Role = Literal["system", "developer", "user", "assistant", "tool"]
# Normalized over every family; the provider's own word is kept beside it (ChatResult.provider_finish_reason).
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image by https URL, or inline as a base64 data URL (`data:image/png;base64,...`)."""

    url: str
    detail: str | None = None  # OpenAI's "low" | "high" | "auto"; other families have no such knob

    def inline(self) -> tuple[str, str] | None:
        """(media type, base64 data) of a data URL, or None for a URL the provider fetches itself."""
        if not self.url.startswith("data:"):
            return None
        head, _, data = self.url[5:].partition(",")
        return head.split(";")[0], data


Part = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model's call of one function. `arguments` is JSON text, as OpenAI carries it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    """One turn. `content` is text, or parts (text and images). An assistant turn may carry tool calls
    (and no text); a tool turn answers the call named by `tool_call_id`."""

    role: Role
    content: str | tuple[Part, ...] = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    @property
    def text(self) -> str:
        """The text of the turn, its parts joined; images left out."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def parts(self) -> tuple[Part, ...]:
        if isinstance(self.content, str):
            return (TextPart(self.content),) if self.content else ()
        return self.content

    @property
    def images(self) -> tuple[ImagePart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ImagePart))


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call: its JSON-schema parameters are passed on as given."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """auto: the model decides; none: no call; required: at least one call; function: call `name`."""

    mode: Literal["auto", "none", "required", "function"]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """Structured output: free text, any JSON object, or JSON that fits `schema`."""

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: Mapping[str, Any] | None = None
    strict: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatRequest:
    """One call to one model. `model` is the id sent on the wire (the catalog's api_model)."""

    model: str
    messages: tuple[Message, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    # Ties a simulated result to its request, so the simulated provider is deterministic.
    request_id: str = ""

    @property
    def system_text(self) -> str:
        """System and developer turns joined, for families that take one system instruction."""
        return "\n\n".join(m.text for m in self.messages if m.role in ("system", "developer"))

    def tool_names_by_call(self) -> dict[str, str]:
        """Each earlier tool call's id -> its function name (Gemini answers a call by name, not id)."""
        return {call.id: call.name for m in self.messages for call in m.tool_calls}


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Tokens as the provider bills them.

    input_tokens counts every input token, cache reads and writes included; cached_input_tokens and
    cache_write_tokens say how many of them were read from or written to the provider's prompt cache
    (cache_write_1h_tokens: how many of the writes were at the one-hour rate). reasoning_tokens is the
    part of output_tokens the model spent thinking.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatResult:
    content: str
    usage: Usage
    ttft_ms: float
    total_ms: float
    response_model: str = ""
    finish_reason: FinishReason | None = None
    provider_finish_reason: str | None = None  # the family's own word: end_turn, MAX_TOKENS, COMPLETE, ...
    tool_calls: tuple[ToolCall, ...] = ()
    simulated: bool = False
    # True when the provider reported no usage and the tokens were estimated from the text.
    usage_estimated: bool = False
    # An embedding call's vectors, in input order (content is then empty).
    embeddings: tuple[list[float], ...] = ()

    @property
    def tokens_per_second(self) -> float:
        """Output tokens over generation time (after the first token), or over the whole call."""
        generating_ms = self.total_ms - self.ttft_ms if self.total_ms > self.ttft_ms else self.total_ms
        return self.usage.output_tokens / (generating_ms / 1000) if generating_ms > 0 else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallDelta:
    """A piece of a streamed tool call, as OpenAI streams them: the first piece of call `index` has its id
    and name, the rest add to its arguments."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamChunk:
    """One piece of a streamed answer: text, or a tool-call fragment. The last chunk carries the whole
    result and nothing else."""

    text: str = ""
    tool_call: ToolCallDelta | None = None
    result: ChatResult | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbedResult:
    """An embedding call's vectors, in input order, and its bill (input tokens only)."""

    vectors: list[list[float]]
    usage: Usage
    total_ms: float
    simulated: bool = False
    usage_estimated: bool = False  # the family reports no tokens for embeddings: counted from the text (Gemini)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchJob:
    """A provider-side batch: its id, the provider's own status word, and its request counts."""

    provider: str
    id: str
    status: str
    request_counts: dict[str, int]
