"""What services send: requests on llm.requests and feedback on llm.feedback."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, StringConstraints, ValidationError, field_validator, model_validator

from streams.events.agent_parts import (
    ContentPart,
    ImagePart,
    NamedTool,
    ResponseFormat,
    ToolCall,
    ToolChoice,
    ToolSpec,
    arguments_problem,
)
from streams.events.base import Event, RequestId, reply_topic_problem, utcnow, validation_problems

# The most texts one embedding request may carry: OpenAI's limit per call, the highest of the families.
# A model whose API takes fewer (Cohere 96, Gemini 100) is skipped for a larger request, with the reason.
MAX_EMBED_INPUTS = 2048

__all__ = [
    "ChatMessage", "PerformanceRequirements", "LLMRequest", "FeedbackGiven", "StreamCancel", "InvalidRequest", "parse_request",
]


class ChatMessage(Event):
    """One turn. `content` is text, or a list of parts (text, image). An assistant turn may carry
    `tool_calls` instead of text; a tool turn carries one call's result and that call's `tool_call_id`.
    A developer turn is a system instruction (sent as the system prompt to families without the role)."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCall] = []
    tool_call_id: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _fits_its_role(self) -> ChatMessage:
        if self.tool_calls and self.role != "assistant":
            raise ValueError(f"only an assistant turn carries tool_calls, not a {self.role} turn")
        if (self.role == "tool") != (self.tool_call_id is not None):
            raise ValueError("a tool turn needs the tool_call_id it answers" if self.role == "tool"
                             else f"tool_call_id belongs on a tool turn, not a {self.role} turn")
        if self.content is None and not self.tool_calls:
            raise ValueError("content is required" + (" (or tool_calls)" if self.role == "assistant" else ""))
        if self.images and self.role != "user":
            raise ValueError(f"images go in user turns, not a {self.role} turn")
        for i, call in enumerate(self.tool_calls):
            if problem := arguments_problem(call.arguments):
                raise ValueError(f"tool_calls.{i}.arguments: {problem}")
        return self

    @property
    def text(self) -> str:
        """The turn's text, parts joined; images left out."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return "".join(p.text for p in self.content if p.type == "text")

    @property
    def images(self) -> list[ImagePart]:
        return [p for p in self.content if p.type == "image"] if isinstance(self.content, list) else []


class PerformanceRequirements(Event):
    max_latency: float | None = Field(default=None, gt=0, description="seconds")
    min_quality: float | None = Field(default=None, ge=0, le=1)


class LLMRequest(Event):
    request_id: RequestId
    created_at: datetime = Field(default_factory=utcnow)
    task_type: str = Field(min_length=1, max_length=128)
    messages: list[ChatMessage] | None = None
    prompt: str | None = None
    agent_context: str | None = None
    preferred_model: str | None = None
    fallback_models: list[str] = []
    quality_threshold: float | None = Field(default=None, ge=0, le=1)
    max_cost_per_request: float | None = Field(default=None, ge=0)
    performance_requirements: PerformanceRequirements | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    # At most 4: OpenAI's limit, the lowest of the families.
    stop: list[str] = Field(default=[], max_length=4)
    seed: int | None = None
    tools: list[ToolSpec] = Field(default=[], max_length=128)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    metadata: dict[str, JsonValue] = {}
    # An embedding request instead of a chat: the texts to embed (no messages or prompt), and the
    # vectors' length when the model can shorten them. Routed like chat, by its task type (embeddings).
    input: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(default=None, min_length=1,
                                                                                 max_length=MAX_EMBED_INPUTS)
    dimensions: int | None = Field(default=None, gt=0, le=16384)
    reply_to: str | None = None
    # Stream the answer: StreamDelta events on the reply topic while the provider call runs, then
    # the LLMResponse as usual.
    stream: bool = False

    @field_validator("reply_to")
    @classmethod
    def _reply_to_is_a_topic(cls, value: str | None) -> str | None:
        if value is not None and (problem := reply_topic_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

    @model_validator(mode="after")
    def _has_input(self) -> LLMRequest:
        if self.input is not None:
            if self.messages or self.prompt:
                raise ValueError("an embedding request ('input') has no 'messages' or 'prompt'")
            if self.stream or self.tools or self.response_format is not None:
                raise ValueError("an embedding request ('input') is not streamed and takes no tools or response_format")
            return self
        if self.dimensions is not None:
            raise ValueError("'dimensions' is for embedding requests (with 'input')")
        if not self.messages and not self.prompt:
            raise ValueError("one of 'messages' or 'prompt' is required ('input' instead, to embed)")
        if self.messages and self.prompt:
            raise ValueError("give 'messages' or 'prompt', not both")
        if problem := _tool_problem(self):
            raise ValueError(problem)
        return self

    def chat_messages(self) -> list[ChatMessage]:
        if self.input is not None:
            return []
        return self.messages or [ChatMessage(role="user", content=self.prompt or "")]

    @property
    def images(self) -> int:
        return sum(len(m.images) for m in self.chat_messages())


def _tool_problem(request: LLMRequest) -> str | None:
    """Tools and their turns that no model could be sent: each names the field."""
    names = [t.name for t in request.tools]
    if len(set(names)) != len(names):
        return "tools: two tools share a name"
    choice = request.tool_choice
    if choice is not None and choice != "none" and not request.tools:
        return "tool_choice: there are no tools to choose from"
    if isinstance(choice, NamedTool) and choice.name not in names:
        return f"tool_choice: no tool is named {choice.name!r}"
    if request.parallel_tool_calls is not None and not request.tools:
        return "parallel_tool_calls: there are no tools"
    called: set[str] = set()
    for i, message in enumerate(request.messages or []):
        called.update(call.id for call in message.tool_calls)
        if message.role == "tool" and message.tool_call_id not in called:
            return f"messages.{i}.tool_call_id: no earlier assistant turn made a call {message.tool_call_id!r}"
    return None


class FeedbackGiven(Event):
    event_type: Literal["feedback_given"] = "feedback_given"
    request_id: RequestId
    given_at: datetime = Field(default_factory=utcnow)
    human_satisfaction_rating: int | None = Field(default=None, ge=1, le=5)
    output_relevance_score: float | None = Field(default=None, ge=0, le=1)
    task_success: bool | None = None
    source: str = "cli"

    @model_validator(mode="after")
    def _says_something(self) -> FeedbackGiven:
        if self.human_satisfaction_rating is None and self.output_relevance_score is None and self.task_success is None:
            raise ValueError("feedback needs a rating, a relevance score or a success verdict")
        return self


class StreamCancel(Event):
    """On llm.stream-cancels: the caller has stopped reading this request's stream (a closed HTTP
    connection, a broken-off ModelManager.stream). The worker serving it stops the provider call and
    bills the tokens produced so far."""

    event_type: Literal["stream_cancel"] = "stream_cancel"
    request_id: RequestId
    at: datetime = Field(default_factory=utcnow)
    reason: str = "the caller stopped reading"


class InvalidRequest(ValueError):
    """A request event that cannot be served. Holds what could be salvaged to answer it."""

    def __init__(self, reason: str, *, request_id: str | None = None, reply_to: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id
        self.reply_to = reply_to


def parse_request(raw: bytes | None) -> LLMRequest:
    """Bytes from llm.requests -> LLMRequest, or InvalidRequest with a reason that names the problem."""
    if not raw:
        raise InvalidRequest("empty event: expected a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"payload is not valid UTF-8 (byte {exc.start})") from None
    try:
        data: Any = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidRequest(f"payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"payload must be a JSON object, got {type(data).__name__}")
    request_id = data.get("request_id") if isinstance(data.get("request_id"), str) and data.get("request_id") else None
    reply_to = data.get("reply_to")
    if not isinstance(reply_to, str) or reply_topic_problem(reply_to):
        reply_to = None
    try:
        return LLMRequest.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(_describe(exc), request_id=request_id, reply_to=reply_to) from None
    except RecursionError:
        raise InvalidRequest("payload is nested too deeply", request_id=request_id, reply_to=reply_to) from None


def _describe(exc: ValidationError) -> str:
    problems = validation_problems(exc)
    more = len(problems) - 5
    return "invalid request: " + "; ".join(problems[:5]) + (f" (+{more} more)" if more > 0 else "")
