"""A circuit breaker per model, as pure functions: state and time in, decision and new state out.

CLOSED ──(failure_threshold failures in a row)──▶ OPEN ──(recovery_timeout passed)──▶ HALF_OPEN
  ▲                                                 ▲                                   │ one probe
  └──────────────────────(probe succeeds)───────────┼───────────────────────────────────┤
                                                    └──────────(probe fails)────────────┘
While HALF_OPEN exactly one probe is in flight; every other call is refused until it answers.
Transitions come back as event names: BreakerOpened, BreakerHalfOpened, BreakerClosed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["BreakerPolicy", "BreakerState", "admit", "record_success", "record_failure"]

State = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_threshold: int = 5
    recovery_timeout_s: float = 300.0


@dataclass(frozen=True, slots=True)
class BreakerState:
    state: State = "closed"
    failures: int = 0
    opened_at: float | None = None
    probe_in_flight: bool = False


def admit(breaker: BreakerState, policy: BreakerPolicy, now: float) -> tuple[bool, BreakerState, list[str]]:
    """May a call go to this model now? (allowed, new state, transition events)"""
    if breaker.state == "closed":
        return True, breaker, []
    if breaker.state == "open":
        assert breaker.opened_at is not None
        if now - breaker.opened_at < policy.recovery_timeout_s:
            return False, breaker, []
        return True, replace(breaker, state="half_open", probe_in_flight=True), ["BreakerHalfOpened"]
    if breaker.probe_in_flight:
        return False, breaker, []
    return True, replace(breaker, probe_in_flight=True), []


def record_success(breaker: BreakerState, policy: BreakerPolicy, now: float) -> tuple[BreakerState, list[str]]:
    if breaker.state == "half_open":
        return BreakerState(), ["BreakerClosed"]
    return replace(breaker, failures=0), []


def record_failure(breaker: BreakerState, policy: BreakerPolicy, now: float) -> tuple[BreakerState, list[str]]:
    if breaker.state == "half_open":  # the probe failed: back to open, the clock restarts
        return BreakerState(state="open", failures=breaker.failures + 1, opened_at=now), ["BreakerOpened"]
    if breaker.state == "open":
        return breaker, []
    failures = breaker.failures + 1
    if failures >= policy.failure_threshold:
        return BreakerState(state="open", failures=failures, opened_at=now), ["BreakerOpened"]
    return replace(breaker, failures=failures), []
