"""The breaker state machine and the backoff schedule, as tables."""

import pytest

from streams.routing.backoff import BackoffPolicy, retry_delay
from streams.routing.breaker import BreakerPolicy, BreakerState, on_outcome, on_probe_claim, verdict

POLICY = BreakerPolicy(failure_threshold=3, recovery_timeout_s=10)


def _fail(breaker: BreakerState, times: int, now: float = 0.0) -> tuple[BreakerState, list[str]]:
    events: list[str] = []
    for _ in range(times):
        breaker, new = on_outcome(breaker, POLICY, now, ok=False)
        events += new
    return breaker, events


def _verdict(breaker: BreakerState, now: float, me: str = "w1", probing: bool = False) -> str:
    return verdict(breaker, POLICY, now, me=me, probing=probing)


def test_threshold_failures_open_it_and_calls_are_refused_until_the_timeout():
    breaker, events = _fail(BreakerState(), 2)
    assert breaker.state == "closed" and events == [] and _verdict(breaker, 0) == "call"
    breaker, events = _fail(breaker, 1, now=100)
    assert (breaker.state, breaker.opened_at, events) == ("open", 100, ["BreakerOpened"])
    assert _verdict(breaker, 109.9) == "refuse"
    assert _verdict(breaker, 110) == "claim", "after the timeout a worker asks the keeper for the probe"


def test_the_first_claim_gets_the_one_probe_and_its_success_closes_it():
    breaker, _ = _fail(BreakerState(), 3, now=100)
    assert on_probe_claim(breaker, POLICY, 105, "w1") == (breaker, []), "too early: nothing granted"
    breaker, events = on_probe_claim(breaker, POLICY, 110, "w1")
    assert (breaker.state, breaker.probe_holder, events) == ("half_open", "w1", ["BreakerHalfOpened"])
    again, events = on_probe_claim(breaker, POLICY, 110.2, "w2")
    assert (again, events) == (breaker, []), "a second claimant gets nothing"
    table = [("w1", False, "probe"), ("w1", True, "refuse"), ("w2", False, "refuse")]
    assert [_verdict(breaker, 111, me, probing) for me, probing, _ in table] == [want for *_, want in table]
    late, events = on_outcome(breaker, POLICY, 111, ok=False)
    assert (late, events) == (breaker, []), "a call that began before the breaker opened is old news"
    breaker, events = on_outcome(breaker, POLICY, 112, ok=True, probe=True)
    assert breaker == BreakerState() and events == ["BreakerClosed"] and _verdict(breaker, 112, "w2") == "call"


def test_a_failed_probe_reopens_it_and_restarts_the_clock():
    breaker, _ = _fail(BreakerState(), 3, now=100)
    breaker, _ = on_probe_claim(breaker, POLICY, 110, "w1")
    breaker, events = on_outcome(breaker, POLICY, 112, ok=False, probe=True)
    assert (breaker.state, breaker.opened_at, events) == ("open", 112, ["BreakerOpened"])
    assert _verdict(breaker, 121) == "refuse" and _verdict(breaker, 122) == "claim"


def test_a_probe_whose_holder_never_reports_is_granted_again_after_another_timeout():
    breaker, _ = _fail(BreakerState(), 3, now=100)
    breaker, _ = on_probe_claim(breaker, POLICY, 110, "w1")
    assert _verdict(breaker, 119, me="w2") == "refuse" and _verdict(breaker, 120, me="w2") == "claim"
    breaker, events = on_probe_claim(breaker, POLICY, 120, "w2")
    assert (breaker.state, breaker.probe_holder, events) == ("half_open", "w2", [])


def test_a_success_resets_the_count_of_failures_in_a_row():
    breaker, _ = _fail(BreakerState(), 2)
    breaker, _ = on_outcome(breaker, POLICY, 1, ok=True)
    breaker, events = _fail(breaker, 2)
    assert breaker.state == "closed" and events == []


@pytest.mark.parametrize(("attempt", "jitter", "retry_after", "expected"), [
    (1, 0.0, None, 0.5), (1, 0.999999, None, 1.0), (2, 0.0, None, 1.0), (3, 0.0, None, 2.0),
    (7, 0.0, None, 30.0), (8, 0.999999, None, 60.0), (20, 0.0, None, 30.0),
    (1, 0.5, 7.0, 7.0), (1, 0.5, 600.0, 60.0), (1, 0.5, -3.0, 0.0),
])
def test_the_seeds_schedule_1s_doubling_capped_at_60s_with_jitter_and_retry_after_wins(attempt, jitter, retry_after, expected):
    assert retry_delay(BackoffPolicy(), attempt, retry_after=retry_after, jitter=jitter) == pytest.approx(expected, abs=1e-4)
