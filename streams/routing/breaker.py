"""A circuit breaker per model, as pure functions: state, time and an input in; new state and transitions out.

CLOSED ──(failure_threshold failures in a row)──▶ OPEN ──(recovery_timeout passed, a probe is claimed)──▶ HALF_OPEN
  ▲                                                 ▲                                                      │ one probe
  └─────────────────────(probe succeeds)────────────┼──────────────────────────────────────────────────────┤
                                                    └────────────────────(probe fails)─────────────────────┘

The state is kept by one writer per model (the breaker keeper, which owns the model's partition of
llm.outcomes) and read by every worker. So the probe in HALF_OPEN is granted, not taken: a worker
that finds the recovery timeout passed *claims* it, the keeper grants it to the first claimant, and
only that worker sends it. Exactly one probe is in flight in the whole cluster. A probe whose holder
never reports (it died) is granted again after another recovery_timeout.

A model the provider does not serve (a 404 at call time, or missing from the account's model list)
is kept beside it too, as `missing_since`: out of routing on every worker until a worker's start-up
listing finds it served again. A rate limit is kept beside the breaker: a 429 whose wait is longer than the router should hold a
request marks the model limited until the wait ends (on_rate_limited), on every worker, and routing
skips it until then; the breaker itself is not opened by it.

Times are wall-clock seconds (epoch): the state travels between machines.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["BreakerPolicy", "BreakerState", "Verdict", "on_outcome", "on_probe_claim", "on_rate_limited", "verdict",
           "limited_for", "on_missing"]

State = Literal["closed", "open", "half_open"]
# call: go ahead. probe: go ahead, this is the one probe. claim: ask the keeper for the probe, do not call now.
Verdict = Literal["call", "probe", "claim", "refuse"]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_threshold: int = 5
    recovery_timeout_s: float = 300.0


@dataclass(frozen=True, slots=True)
class BreakerState:
    state: State = "closed"
    failures: int = 0
    opened_at: float | None = None
    probe_holder: str | None = None
    probe_granted_at: float | None = None
    limited_until: float | None = None  # the provider said to wait until then (a long Retry-After)
    missing_since: float | None = None  # the provider does not serve the model's wire id (404, or not listed)


def on_rate_limited(breaker: BreakerState, until: float) -> BreakerState:
    """The provider asked for a wait until `until`: the later of that and any limit already known."""
    return replace(breaker, limited_until=max(until, breaker.limited_until or 0.0))


def on_missing(breaker: BreakerState, now: float, *, missing: bool) -> BreakerState:
    """The provider does not serve the model (kept since the first report), or serves it again."""
    if not missing:
        return replace(breaker, missing_since=None)
    return breaker if breaker.missing_since is not None else replace(breaker, missing_since=now)


def limited_for(breaker: BreakerState, now: float) -> float:
    """Seconds the model is still rate limited for (0 when it is not)."""
    return max(0.0, (breaker.limited_until or 0.0) - now)


def on_outcome(breaker: BreakerState, policy: BreakerPolicy, now: float, *, ok: bool,
               probe: bool = False) -> tuple[BreakerState, list[str]]:
    """A call to the model ended: ok, or failed retryably (a fatal error counts as ok: the provider answered)."""
    if breaker.state == "half_open":
        if not probe:
            return breaker, []  # a call that started before the breaker opened: old news
        if ok:
            return BreakerState(limited_until=breaker.limited_until, missing_since=breaker.missing_since), \
                ["BreakerClosed"]
        return BreakerState(state="open", failures=breaker.failures + 1, opened_at=now,
                            limited_until=breaker.limited_until, missing_since=breaker.missing_since), ["BreakerOpened"]
    if breaker.state == "open":
        return breaker, []
    if ok:
        return (replace(breaker, failures=0) if breaker.failures else breaker), []
    failures = breaker.failures + 1
    if failures >= policy.failure_threshold:
        return BreakerState(state="open", failures=failures, opened_at=now, limited_until=breaker.limited_until,
                            missing_since=breaker.missing_since), ["BreakerOpened"]
    return replace(breaker, failures=failures), []


def on_probe_claim(breaker: BreakerState, policy: BreakerPolicy, now: float,
                   claimant: str) -> tuple[BreakerState, list[str]]:
    """A worker asks to send the probe. The first claim after the timeout wins; so does one after a lost probe."""
    if breaker.state == "open":
        assert breaker.opened_at is not None
        if now - breaker.opened_at >= policy.recovery_timeout_s:
            return replace(breaker, state="half_open", probe_holder=claimant, probe_granted_at=now), ["BreakerHalfOpened"]
        return breaker, []
    if breaker.state == "half_open":
        assert breaker.probe_granted_at is not None
        if now - breaker.probe_granted_at >= policy.recovery_timeout_s:  # the holder never reported
            return replace(breaker, probe_holder=claimant, probe_granted_at=now), []
    return breaker, []


def verdict(breaker: BreakerState, policy: BreakerPolicy, now: float, *, me: str, probing: bool) -> Verdict:
    """What a worker may do with a call to this model now. `probing`: this worker's probe is already in flight."""
    if breaker.state == "closed":
        return "call"
    if breaker.state == "open":
        assert breaker.opened_at is not None
        return "claim" if now - breaker.opened_at >= policy.recovery_timeout_s else "refuse"
    if breaker.probe_holder == me and not probing:
        return "probe"
    assert breaker.probe_granted_at is not None
    if breaker.probe_holder != me and now - breaker.probe_granted_at >= policy.recovery_timeout_s:
        return "claim"
    return "refuse"
