"""What workers and the keepers say to each other: outcomes and health, cache, budget reservations and state."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, JsonValue

from streams.events.base import Event, utcnow

__all__ = ["ModelOutcome", "ModelHealth", "CacheEntry", "BudgetRequest", "BudgetDecision", "BudgetState"]


class ModelOutcome(Event):
    """On llm.outcomes, keyed by model: what the breaker keeper and the live figures are fed.

    kind "call": one provider call ended (ok, or a retryable failure; a fatal error counts as ok,
    since the provider answered). kind "calls": several calls ended ok, one latency each in
    `latencies_ms`, their output tokens summed; a worker gathers them while the model's breaker is
    closed with no failures, where a success changes nothing but the figures. kind "probe_claim":
    a worker asks for a HALF_OPEN probe. kind "rate_limited": the provider told a worker to wait until
    `until` (epoch seconds), longer than a request should be held: every worker skips the model till then.
    kinds "missing" and "found": the provider does not serve the model's wire id (a 404, or absent from
    the account's model list at a worker's start), or serves it again.
    """

    event_type: Literal["model_outcome"] = "model_outcome"
    model: str
    worker: str
    at: float  # epoch seconds
    kind: Literal["call", "calls", "probe_claim", "rate_limited", "missing", "found"] = "call"
    until: float | None = None
    ok: bool = True
    probe: bool = False
    latency_ms: float = 0.0
    output_tokens: int = 0
    latencies_ms: list[float] = Field(default_factory=list)

    def latencies(self) -> list[float]:
        return self.latencies_ms if self.kind == "calls" else [self.latency_ms]


class ModelHealth(Event):
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
    limited_until: float | None = None  # rate limited by its provider until then (epoch seconds)
    missing_since: float | None = None  # its provider does not serve its wire id, since then
    figures: dict[str, float] = {}


class ModelQuality(Event):
    """On llm.model-quality (compacted), keyed by "model|task_type": the live quality users' feedback
    gives a model on a task (analytics/quality.py), computed by the sink and read by every worker.

    `quality` is 0..1; `judgments` is how many requests were judged in the window. Routing trusts it
    once `judgments` reaches quality_feedback.min_judgments, and uses the tier's prior until then."""

    model: str
    task_type: str
    quality: float = Field(ge=0, le=1)
    judgments: int = Field(ge=0)
    at: float

    @property
    def key(self) -> str:
        return f"{self.model}|{self.task_type}"


class CacheEntry(Event):
    """On llm.cache-entries or llm.idempotency-entries, keyed by cache key, on the partition number of
    the request that made it: an answer shared with identical requests until `expires_at` (epoch
    seconds). Written in that request's transaction; read back by the next owner of the partition."""

    key: str
    request_id: str  # the request whose answer it is
    expires_at: float
    answer: dict[str, JsonValue]


class BudgetRequest(Event):
    """For the budget keeper; one partition per topic, so one keeper sees them in order.

    Each worker holds a lease per provider and budget windows: a slice of those budgets the keeper
    has set aside for it. A call reserves from the lease in memory; the keeper is asked only when
    the lease runs short. `call_id` names the lease.
      reserve (on llm.budget): add `amount` to the lease; when the budgets are tighter, `need`
        (what the calls waiting on it lack), or as much of it as fits if that is at least `least`
        (what the asking call lacks); answered on llm.budget-decisions with what was granted.
      renew (on llm.budget): the lease is still in use; answered granted, or refused if the keeper
        has released it.
      give_back (on llm.budget): `amount` of the lease is not needed; no answer.
      settle (on llm.budget-settlements, in the answer's transaction): a call under the lease ended;
        `amount` is what it cost (0 when it failed), spent from the lease.
    """

    event_type: Literal["budget_request"] = "budget_request"
    kind: Literal["reserve", "renew", "give_back", "settle"]
    request_id: str  # the request that led to this (for a renew or a give-back, the lease)
    model: str
    provider: str
    worker: str
    at: datetime = Field(default_factory=utcnow)
    amount: float = Field(ge=0)
    need: float = Field(default=0.0, ge=0)
    least: float = Field(default=0.0, ge=0)
    call_id: str = Field(min_length=1)  # the lease
    ask_id: str = ""  # a reserve's or renew's own id, echoed by its decision
    ahead: bool = False  # a reserve before the lease runs short: no call is refused if it is

    @property
    def hold_id(self) -> str:
        return self.call_id


class BudgetDecision(Event):
    """On llm.budget-decisions: the keeper's answer to a reserve or renew. `refusal` names the budget."""

    request_id: str
    model: str
    worker: str
    granted: bool
    amount: float = 0.0  # added to the lease
    ask_id: str = ""  # the ask this answers
    refusal: str | None = None
    # Refused only because of holds not yet settled: spend alone leaves room, so asking again soon may fit.
    held_back: bool = False


class BudgetState(Event):
    """On llm.budget-state (compacted), keyed by window key: spend and holds, for every worker and the tests."""

    key: str
    budget: str
    limit_usd: float
    spent_usd: float
    reserved_usd: float
    at: float
