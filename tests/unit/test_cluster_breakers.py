"""A worker's side of the shared breakers and operators' overrides: no broker, a recorded send."""

from __future__ import annotations

import pytest

from streams.agents.breakers import ClusterBreakers
from streams.events import ModelHealth
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
