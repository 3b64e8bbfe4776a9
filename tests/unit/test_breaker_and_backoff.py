"""The breaker state machine and the backoff schedule, as tables."""

import pytest

from streams.routing.backoff import BackoffPolicy, retry_delay
from streams.routing.breaker import BreakerPolicy, BreakerState, admit, record_failure, record_success

POLICY = BreakerPolicy(failure_threshold=3, recovery_timeout_s=10)


def _fail(breaker: BreakerState, times: int, now: float = 0.0) -> tuple[BreakerState, list[str]]:
    events: list[str] = []
    for _ in range(times):
        breaker, new = record_failure(breaker, POLICY, now)
        events += new
    return breaker, events


def test_threshold_failures_open_it_and_calls_are_refused_until_the_timeout():
    breaker, events = _fail(BreakerState(), 2)
    assert breaker.state == "closed" and events == []
    breaker, events = _fail(breaker, 1, now=100)
    assert (breaker.state, breaker.opened_at, events) == ("open", 100, ["BreakerOpened"])
    assert admit(breaker, POLICY, now=109.9)[0] is False


def test_after_the_timeout_exactly_one_probe_goes_and_success_closes_it():
    breaker, _ = _fail(BreakerState(), 3, now=100)
    allowed, breaker, events = admit(breaker, POLICY, now=110)
    assert allowed and breaker.state == "half_open" and events == ["BreakerHalfOpened"]
    assert admit(breaker, POLICY, now=110.5)[0] is False, "a second call waits for the probe"
    breaker, events = record_success(breaker, POLICY, now=111)
    assert breaker == BreakerState() and events == ["BreakerClosed"]
    assert admit(breaker, POLICY, now=111)[0] is True


def test_a_failed_probe_reopens_it_and_restarts_the_clock():
    breaker, _ = _fail(BreakerState(), 3, now=100)
    _, breaker, _ = admit(breaker, POLICY, now=110)
    breaker, events = record_failure(breaker, POLICY, now=112)
    assert (breaker.state, breaker.opened_at, events) == ("open", 112, ["BreakerOpened"])
    assert admit(breaker, POLICY, now=121)[0] is False and admit(breaker, POLICY, now=122)[0] is True


def test_a_success_resets_the_count_of_failures_in_a_row():
    breaker, _ = _fail(BreakerState(), 2)
    breaker, _ = record_success(breaker, POLICY, now=1)
    breaker, events = _fail(breaker, 2)
    assert breaker.state == "closed" and events == []


@pytest.mark.parametrize(("attempt", "jitter", "retry_after", "expected"), [
    (1, 0.0, None, 0.5), (1, 0.999999, None, 1.0), (2, 0.0, None, 1.0), (3, 0.0, None, 2.0),
    (7, 0.0, None, 30.0), (8, 0.999999, None, 60.0), (20, 0.0, None, 30.0),
    (1, 0.5, 7.0, 7.0), (1, 0.5, 600.0, 60.0), (1, 0.5, -3.0, 0.0),
])
def test_the_seeds_schedule_1s_doubling_capped_at_60s_with_jitter_and_retry_after_wins(attempt, jitter, retry_after, expected):
    assert retry_delay(BackoffPolicy(), attempt, retry_after=retry_after, jitter=jitter) == pytest.approx(expected, abs=1e-4)
