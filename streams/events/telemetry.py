"""What workers and keepers record on llm.telemetry for ClickHouse: metadata only, never prompt or completion text."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from streams.events.base import Event, utcnow

__all__ = ["RequestCompleted", "AttemptCompleted", "RouteDecided", "RequestServed", "KeyRotationDue",
           "QueueDepthSampled", "BreakerChanged", "BudgetThreshold"]


class RequestCompleted(Event):
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
    # Parts of the tokens above, as the provider bills them (TokenUsage).
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float
    ttft_ms: float | None = None
    total_ms: float
    error_code: str = ""
    simulated: bool
    streamed: bool = False
    usage_estimated: bool = False
    # Agent traffic, as counts and flags: never the tools, their arguments or results, or the images.
    tools_offered: int = 0
    tool_calls: int = 0
    images: int = 0
    response_format: str = ""  # "", text, json_object or json_schema
    finish_reason: str = ""  # stop, length, tool_calls or content_filter
    # What routing read from the request besides its task and agent, for `hugai-llm replay`.
    inputs_recorded: bool = True
    preferred_model: str = ""
    fallback_models: list[str] = []
    quality_threshold: float | None = None
    min_quality: float | None = None
    max_cost_usd: float | None = None
    max_latency_ms: float | None = None
    max_tokens: int | None = None
    complexity: str = ""  # metadata.complexity, when the request gave one
    estimated_input_tokens: int = 0  # routing's estimate (streams/routing/scoring.py), not the billed count
    embedding_inputs: int = 0  # the texts an embedding request embedded (never the texts or the vectors); 0: a chat
    # Only when security_configuration.data_protection.request_logging is "full".
    prompt_text: str | None = None
    completion_text: str | None = None


class AttemptCompleted(Event):
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
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    simulated: bool
    provider_finish_reason: str = ""  # the family's own word: end_turn, MAX_TOKENS, COMPLETE, ...


class RouteDecided(Event):
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
    # The quality figure each candidate was scored with, and how many judged requests it rests on:
    # 0 means the tier's prior (no feedback yet, or fewer than quality_feedback.min_judgments).
    quality: dict[str, float] = {}
    quality_judgments: dict[str, int] = {}


class RequestServed(Event):
    """One record per request on llm.telemetry: its route decision, its attempts and its completion.

    One record, not one per fact: records are most of what a request costs the broker and the
    worker. The sink files each event in its own table (analytics/sink.py).
    """

    event_type: Literal["request_served"] = "request_served"
    events: list[Annotated[RequestCompleted | AttemptCompleted | RouteDecided, Field(discriminator="event_type")]]

    @staticmethod
    def encode(events: list[RequestCompleted | AttemptCompleted | RouteDecided]) -> bytes:
        """The record's bytes from events already built and checked: joined, not validated again."""
        return b'{"event_type":"request_served","events":[' + b",".join(e.to_bytes() for e in events) + b"]}"


class KeyRotationDue(Event):
    """A provider key older than rotation_frequency. Names where the key lives, never the key."""

    event_type: Literal["key_rotation_due"] = "key_rotation_due"
    event_id: str
    at: datetime
    family: str
    source: str
    age_days: float
    max_age_days: float


class QueueDepthSampled(Event):
    """Calls in flight on one worker for one provider; provider "" carries the cluster's waiting requests."""

    event_type: Literal["queue_depth_sampled"] = "queue_depth_sampled"
    at: datetime
    worker: str
    provider: str
    in_flight: int = 0
    waiting: int = 0


class BreakerChanged(Event):
    """A model's circuit breaker changed state on one worker."""

    event_type: Literal["breaker_changed"] = "breaker_changed"
    event_id: str
    at: datetime
    model: str
    state: Literal["open", "half_open", "closed"]
    reason: str


class BudgetThreshold(Event):
    """On llm.telemetry: a budget window crossed 50, 80 or 100% of its limit. Once per window and threshold."""

    event_type: Literal["budget_threshold"] = "budget_threshold"
    event_id: str
    at: datetime = Field(default_factory=utcnow)
    budget: str
    window_start: datetime
    threshold: float
    spent_usd: float
    limit_usd: float
