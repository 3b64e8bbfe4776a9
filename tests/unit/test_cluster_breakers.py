"""A worker's side of the shared breakers and operators' overrides: no broker, a recorded send."""

from __future__ import annotations

import pytest

from streams.agents.breaker_keeper import add_call, figures_of
from streams.agents.breakers import ClusterBreakers
from streams.events import ModelHealth, ModelOutcome
from streams.routing.breaker import BreakerPolicy
from streams.routing.overrides import Overrides, apply_command


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def board():  # noqa: ANN201
    sent, clock = [], Clock()

    async def send(outcome) -> None:  # noqa: ANN001
        sent.append(outcome)

    return ClusterBreakers(BreakerPolicy(failure_threshold=5, recovery_timeout_s=10), me="w1", send=send,
                           clock=clock), sent, clock


async def test_outcomes_are_reported_and_the_broadcast_state_decides(board):
    breakers, sent, clock = board
    assert await breakers.admit("m", []) == "call"
    await breakers.report("m", ok=False, probe=False, latency_ms=12.5, output_tokens=0, events=[])
    assert [(o.model, o.kind, o.ok, o.latency_ms, o.worker) for o in sent] == [("m", "call", False, 12.5, "w1")]
    breakers.apply(ModelHealth(model="m", at=clock.now, state="open", failures=5, opened_at=clock.now))
    assert await breakers.admit("m", []) is None


async def test_after_the_timeout_it_claims_the_probe_at_most_once_a_second_and_only_the_holder_probes(board):
    breakers, sent, clock = board
    breakers.apply(ModelHealth(model="m", at=clock.now, state="open", failures=5, opened_at=clock.now))
    clock.now += 10
    assert await breakers.admit("m", []) is None and await breakers.admit("m", []) is None
    assert [o.kind for o in sent] == ["probe_claim"]
    clock.now += 1
    assert await breakers.admit("m", []) is None and len(sent) == 2
    granted = dict(model="m", at=clock.now, state="half_open", failures=5, opened_at=clock.now - 11,
                   probe_granted_at=clock.now)
    breakers.apply(ModelHealth(**granted, probe_holder="w2"))
    assert await breakers.admit("m", []) is None, "another worker holds the probe"
    breakers.apply(ModelHealth(**granted, probe_holder="w1"))
    assert await breakers.admit("m", []) == "probe"
    assert await breakers.admit("m", []) is None, "one probe in flight"
    await breakers.report("m", ok=True, probe=True, latency_ms=5, output_tokens=3, events=[])
    assert (sent[-1].probe, sent[-1].ok) == (True, True)


async def test_successes_on_a_healthy_model_go_together_and_never_after_a_later_failure(board):
    breakers, sent, clock = board
    for latency in (10.0, 20.0, 30.0):
        await breakers.report("m", ok=True, probe=False, latency_ms=latency, output_tokens=4, events=[])
    assert sent == [], "gathered until the flush"
    await breakers.flush()
    assert [(o.kind, o.latencies_ms, o.output_tokens) for o in sent] == [("calls", [10.0, 20.0, 30.0], 12)]
    await breakers.flush()
    assert len(sent) == 1, "nothing gathered, nothing sent"

    await breakers.report("m", ok=True, probe=False, latency_ms=5.0, output_tokens=1, events=[])
    await breakers.report("m", ok=False, probe=False, latency_ms=7.0, output_tokens=0, events=[])
    assert [(o.kind, o.ok) for o in sent[1:]] == [("calls", True), ("call", False)], "the success first, in order"


async def test_while_the_breaker_counts_failures_every_outcome_goes_at_once(board):
    breakers, sent, clock = board
    breakers.apply(ModelHealth(model="m", at=clock.now, state="closed", failures=2))
    await breakers.report("m", ok=True, probe=False, latency_ms=3.0, output_tokens=1, events=[])
    assert [(o.kind, o.ok) for o in sent] == [("call", True)], "this success resets the count: it cannot wait"


async def test_a_model_s_gathered_successes_are_sent_when_there_are_enough(board):
    breakers, sent, _ = board
    for _ in range(ClusterBreakers.MAX_GATHERED):
        await breakers.report("m", ok=True, probe=False, latency_ms=1.0, output_tokens=0, events=[])
    assert [len(o.latencies_ms) for o in sent] == [ClusterBreakers.MAX_GATHERED]


def test_the_keeper_counts_a_batch_as_its_calls_one_by_one():
    one_by_one = None
    for latency in (10.0, 20.0, 400.0):
        one_by_one = add_call(one_by_one, ModelOutcome(model="m", worker="w", at=0, latency_ms=latency, output_tokens=5))
    batch = add_call(None, ModelOutcome(model="m", worker="w", at=0, kind="calls", latencies_ms=[10.0, 20.0, 400.0],
                                        output_tokens=15))
    assert batch == one_by_one
    assert figures_of(batch)["calls"] == 3 and figures_of(batch)["ok"] == 3


@pytest.mark.parametrize(("commands", "expected"), [
    ([("disable_model", "gpt-4", None)], Overrides(disabled_models=frozenset({"gpt-4"}))),
    ([("disable_model", "gpt-4", None), ("enable_model", "gpt-4", None)], Overrides()),
    ([("disable_provider", "openai", None)], Overrides(disabled_providers=frozenset({"openai"}))),
    ([("breaker_open", "gpt-4", None), ("breaker_closed", "gpt-4", None)], Overrides(forced_breakers={"gpt-4": "closed"})),
    ([("breaker_open", "gpt-4", None), ("breaker_auto", "gpt-4", None)], Overrides()),
    ([("pin_task", "code_generation", "gemini-pro")], Overrides(pins={"code_generation": "gemini-pro"})),
    ([("pin_task", "code_generation", "gemini-pro"), ("unpin_task", "code_generation", None)], Overrides()),
])
def test_operator_commands_fold_into_overrides(commands, expected):
    overrides = Overrides()
    for action, target, model in commands:
        overrides = apply_command(overrides, action, target, model)
    assert overrides == expected


def test_why_an_overridden_model_is_unavailable():
    overrides = Overrides(disabled_models=frozenset({"a"}), disabled_providers=frozenset({"openai"}),
                          forced_breakers={"c": "open", "d": "closed"})
    assert [overrides.unavailable(m, p) for m, p in [("a", "x"), ("b", "openai"), ("c", "x"), ("d", "x")]] == [
        "disabled by an operator", "provider openai disabled by an operator",
        "circuit breaker forced open by an operator", None]
