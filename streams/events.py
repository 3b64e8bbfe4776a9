"""The wire events: JSON, UTF-8, one pydantic model each. Any Kafka client can speak them.

LLMRequest      on llm.requests, keyed by request_id
LLMResponse     on llm.responses (or the request's reply_to topic), keyed by request_id
RequestCompleted on llm.telemetry: the metadata-only record of one response, for ClickHouse
AttemptCompleted on llm.telemetry: one provider call
RouteDecided    on llm.telemetry: the candidates considered and the one chosen
FeedbackGiven   on llm.feedback: a human's or a system's verdict on one response
DeadLetter      on llm.requests.dlq: an event we could not serve, with the reason
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator, model_validator

from streams.topic_names import NOT_REPLY_TARGETS

__all__ = [
    "ChatMessage",
    "PerformanceRequirements",
    "LLMRequest",
    "TokenUsage",
    "Latency",
    "Attempt",
    "ErrorInfo",
    "LLMResponse",
    "RequestCompleted",
    "AttemptCompleted",
    "RouteDecided",
    "FeedbackGiven",
    "KeyRotationDue",
    "QueueDepthSampled",
    "BreakerChanged",
    "ModelOutcome",
    "ModelHealth",
    "ControlCommand",
    "CONTROL_ACTIONS",
    "ApprovalRequested",
    "ApprovalDecided",
    "CacheRequest",
    "CacheAnswer",
    "BudgetRequest",
    "BudgetDecision",
    "BudgetThreshold",
    "BudgetState",
    "DeadLetter",
    "InvalidRequest",
    "parse_request",
    "utcnow",
]

# Kafka's own rule for topic names.
_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
RequestId = Annotated[str, Field(min_length=1, max_length=128)]


def reply_topic_problem(name: str) -> str | None:
    """Why `name` cannot be a reply_to topic, or None when it can."""
    if not _TOPIC_NAME.match(name):
        return "must be a Kafka topic name: 1-249 of [a-zA-Z0-9._-]"
    if name in NOT_REPLY_TARGETS:
        return f"{name} is an input topic of the router, not a reply topic"
    return None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode("utf-8")


class ChatMessage(_Event):
    role: Literal["system", "user", "assistant"]
    content: str


class PerformanceRequirements(_Event):
    max_latency: float | None = Field(default=None, gt=0, description="seconds")
    min_quality: float | None = Field(default=None, ge=0, le=1)


class LLMRequest(_Event):
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
    metadata: dict[str, JsonValue] = {}
    reply_to: str | None = None

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
        if not self.messages and not self.prompt:
            raise ValueError("one of 'messages' or 'prompt' is required")
        if self.messages and self.prompt:
            raise ValueError("give 'messages' or 'prompt', not both")
        return self

    def chat_messages(self) -> list[ChatMessage]:
        return self.messages or [ChatMessage(role="user", content=self.prompt or "")]


class TokenUsage(_Event):
    input_tokens: int = 0
    output_tokens: int = 0


class Latency(_Event):
    ttft: float | None = None
    total: float = 0.0


class Attempt(_Event):
    model: str
    provider: str
    status: Literal["ok", "error"]
    latency_ms: float
    error_code: str | None = None


class ErrorInfo(_Event):
    code: str
    message: str


class LLMResponse(_Event):
    request_id: RequestId
    status: Literal["ok", "error", "rejected"]
    model: str | None = None
    provider: str | None = None
    content: str | None = None
    usage: TokenUsage = TokenUsage()
    cost_usd: float = 0.0
    latency_ms: Latency = Latency()
    attempts: list[Attempt] = []
    error: ErrorInfo | None = None
    simulated: bool = False
    # Answered from the response cache, or by an identical request in flight (then cost_usd is 0).
    cache_hit: bool = False
    responded_at: datetime = Field(default_factory=utcnow)


class RequestCompleted(_Event):
    """What ClickHouse keeps of one response: metadata only, never prompt or completion text."""

    event_type: Literal["request_completed"] = "request_completed"
    request_id: str
    created_at: datetime
    responded_at: datetime
    task_type: str
    agent_context: str = ""
    environment: str
    tenant: str = ""
    user: str = ""
    model: str = ""
    provider: str = ""
    status: str
    attempts: int
    fallback_used: bool
    cache_hit: bool = False
    input_tokens: int
    output_tokens: int
    cost_usd: float
    ttft_ms: float | None = None
    total_ms: float
    error_code: str = ""
    simulated: bool
    # Only when security_configuration.data_protection.request_logging is "full".
    prompt_text: str | None = None
    completion_text: str | None = None


class AttemptCompleted(_Event):
    """One provider call, metadata only."""

    event_type: Literal["attempt_completed"] = "attempt_completed"
    attempt_id: str  # request_id:attempt number, so a replay folds into the same row
    request_id: str
    attempt: int
    started_at: datetime
    environment: str
    tenant: str = ""
    user: str = ""
    task_type: str
    agent_context: str = ""
    model: str
    provider: str
    status: Literal["ok", "error"]
    error_code: str = ""
    latency_ms: float
    ttft_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    simulated: bool


class RouteDecided(_Event):
    """Why a request went where it went: answerable from ClickHouse."""

    event_type: Literal["route_decided"] = "route_decided"
    request_id: str
    decided_at: datetime
    environment: str
    tenant: str = ""
    user: str = ""
    task_type: str
    agent_context: str = ""
    reason: str
    candidates: list[str]
    chosen_model: str = ""
    excluded: dict[str, str] = {}
    scores: dict[str, float] = {}  # the decision matrix's score of every candidate considered


class FeedbackGiven(_Event):
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


class KeyRotationDue(_Event):
    """A provider key older than rotation_frequency. Names where the key lives, never the key."""

    event_type: Literal["key_rotation_due"] = "key_rotation_due"
    event_id: str
    at: datetime
    family: str
    source: str
    age_days: float
    max_age_days: float


class QueueDepthSampled(_Event):
    """Calls in flight on one worker for one provider; provider "" carries the cluster's waiting requests."""

    event_type: Literal["queue_depth_sampled"] = "queue_depth_sampled"
    at: datetime
    worker: str
    provider: str
    in_flight: int = 0
    waiting: int = 0


class BreakerChanged(_Event):
    """A model's circuit breaker changed state on one worker."""

    event_type: Literal["breaker_changed"] = "breaker_changed"
    event_id: str
    at: datetime
    model: str
    state: Literal["open", "half_open", "closed"]
    reason: str


class ModelOutcome(_Event):
    """On llm.outcomes, keyed by model: what the breaker keeper and the live figures are fed.

    kind "call": one provider call ended (ok, or a retryable failure; a fatal error counts as ok,
    since the provider answered). kind "probe_claim": a worker asks for a HALF_OPEN probe.
    """

    event_type: Literal["model_outcome"] = "model_outcome"
    model: str
    worker: str
    at: float  # epoch seconds
    kind: Literal["call", "probe_claim"] = "call"
    ok: bool = True
    probe: bool = False
    latency_ms: float = 0.0
    output_tokens: int = 0


class ModelHealth(_Event):
    """On llm.model-health (compacted), keyed by model: the keeper's view, read by every worker.

    `figures` are the live numbers of the current window: calls, ok, p50_ms, p95_ms, tokens_per_s.
    """

    model: str
    at: float
    state: Literal["open", "half_open", "closed"] = "closed"
    failures: int = 0
    opened_at: float | None = None
    probe_holder: str | None = None
    probe_granted_at: float | None = None
    figures: dict[str, float] = {}


CONTROL_ACTIONS = (
    "breaker_open", "breaker_closed", "breaker_auto",  # target: a model
    "disable_model", "enable_model",  # target: a model
    "disable_provider", "enable_provider",  # target: a provider family
    "pin_task", "unpin_task",  # target: a task type; pin_task names the model
)


class ControlCommand(_Event):
    """On llm.control, keyed by "<kind>:<target>": an operator's command. Every worker applies it;
    the sink files it in control_audit (who, when, why)."""

    event_type: Literal["control_command"] = "control_command"
    event_id: str
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    action: Literal[CONTROL_ACTIONS]  # type: ignore[valid-type]
    target: str = Field(min_length=1)
    model: str | None = None

    @model_validator(mode="after")
    def _pin_names_a_model(self) -> ControlCommand:
        if (self.action == "pin_task") != (self.model is not None):
            raise ValueError("pin_task needs a model, and only pin_task takes one")
        return self

    @property
    def key(self) -> str:
        """Later commands on the same thing replace earlier ones: the compacted topic keeps the last."""
        scope = self.action.split("_", 1)[1] if self.action.startswith(("disable", "enable")) else self.action.split("_")[0]
        return f"{scope}:{self.target}"


class ApprovalRequested(_Event):
    """On llm.approvals, keyed by request_id: a critical request waits for an operator. Metadata only."""

    event_type: Literal["approval_requested"] = "approval_requested"
    request_id: str
    at: datetime = Field(default_factory=utcnow)
    task_type: str
    model: str
    estimated_cost_usd: float
    tenant: str = ""
    expires_at: datetime


class ApprovalDecided(_Event):
    """On llm.approvals, keyed by request_id: approved or rejected, by whom and why (timeouts reject)."""

    event_type: Literal["approval_decided"] = "approval_decided"
    event_id: str
    request_id: str
    at: datetime = Field(default_factory=utcnow)
    approved: bool
    actor: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class CacheRequest(_Event):
    """On llm.cache, keyed by cache key (so one keeper per key): look up, store or abandon an answer.

    lookup: is there an answer (hit), one being made (follow: wait for it), or nothing (lead: make it)?
    store: the leader's answer, for its followers and, with a ttl, for later lookups.
    abandon: the leader got no answer; its followers make their own.
    """

    kind: Literal["lookup", "store", "abandon"]
    key: str
    request_id: str
    worker: str
    ttl_s: float = 0.0  # how long a stored answer serves later lookups; 0: only the requests waiting now
    answer: dict[str, JsonValue] | None = None


class CacheAnswer(_Event):
    """On llm.cache-answers: hit (with the answer), lead (make it), follow (an identical request is making
    it: wait for a second answer), or serve (that leader gave up: make your own)."""

    request_id: str
    worker: str
    verdict: Literal["hit", "lead", "follow", "serve"]
    answer: dict[str, JsonValue] | None = None
    first_request_id: str | None = None


class BudgetRequest(_Event):
    """For the budget keeper, keyed by request_id; one partition per topic, so one keeper sees them in order.

    reserve (on llm.budget): hold `amount` against every budget window the call touches, before the call.
    settle (on llm.budget-settlements, in the answer's transaction): the call ended; `amount` is what
    it cost (0 when it failed), and the hold is released.
    """

    event_type: Literal["budget_request"] = "budget_request"
    kind: Literal["reserve", "settle"]
    request_id: str
    model: str
    provider: str
    worker: str
    at: datetime = Field(default_factory=utcnow)
    amount: float = Field(ge=0)
    # One per provider call, shared by its reservation and its settlement (they name the same hold).
    call_id: str = Field(min_length=1)

    @property
    def hold_id(self) -> str:
        return f"{self.request_id}|{self.model}|{self.call_id}"


class BudgetDecision(_Event):
    """On llm.budget-decisions: the keeper's answer to a reservation. `refusal` names the budget."""

    request_id: str
    model: str
    worker: str
    granted: bool
    refusal: str | None = None
    # Refused only because of holds not yet settled: spend alone leaves room, so asking again soon may fit.
    held_back: bool = False


class BudgetThreshold(_Event):
    """On llm.telemetry: a budget window crossed 50, 80 or 100% of its limit. Once per window and threshold."""

    event_type: Literal["budget_threshold"] = "budget_threshold"
    event_id: str
    at: datetime = Field(default_factory=utcnow)
    budget: str
    window_start: datetime
    threshold: float
    spent_usd: float
    limit_usd: float


class BudgetState(_Event):
    """On llm.budget-state (compacted), keyed by window key: spend and holds, for every worker and the tests."""

    key: str
    budget: str
    limit_usd: float
    spent_usd: float
    reserved_usd: float
    at: float


class DeadLetter(_Event):
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
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "request"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "invalid request: " + "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
