"""A worker's budget leases: reservations from memory, one ask for many calls, what is given back and when.

The keeper's side is a few lines here (grant what fits under one limit), so the gate's arithmetic
is checked alone; the keeper itself is exercised on the real broker in tests/e2e/test_budgets.py.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from streams.agents.budget_gate import LEASE_IDLE_S, LEASE_RENEW_S, BudgetGate
from streams.events import BudgetDecision, BudgetRequest
from streams.routing.budgets import BudgetWindow


class Keeper:
    """Grants `amount`, else `need`, else what is left if it covers `least`, under one limit."""

    def __init__(self, limit: float):
        self.limit = limit
        self.held = 0.0  # granted and not given back (the gate's settlements are not sent anywhere here)
        self.sent: list[BudgetRequest] = []
        self.gate: BudgetGate | None = None
        self.silent = False
        self.released: set[str] = set()

    async def send(self, request: BudgetRequest) -> None:
        self.sent.append(request)
        if self.silent or request.kind == "give_back":
            self.held -= request.amount if request.kind == "give_back" else 0.0
            return
        await asyncio.sleep(0)  # as over the broker: the answer comes after the ask has gone
        if request.kind == "renew":
            granted, amount = request.call_id not in self.released, 0.0
        else:
            room = self.limit - self.held
            amount = next((a for a in (request.amount, request.need) if a <= room + 1e-12),
                          room if room >= request.least else 0.0)
            granted = amount > 0
            self.held += amount
        assert self.gate is not None
        self.gate.apply_decision(BudgetDecision(request_id=request.request_id, model=request.model,
                                                worker=request.worker, granted=granted, amount=amount,
                                                ask_id=request.ask_id, refusal=None if granted else "full"))

    def asks(self) -> list[BudgetRequest]:
        return [r for r in self.sent if r.kind == "reserve"]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gate_for(keeper: Keeper, clock: Clock, limit: float = 1.0, timeout_s: float = 5.0,
             wall: list[datetime] | None = None) -> BudgetGate:
    def windows(provider: str, at: datetime) -> list[BudgetWindow]:
        return [BudgetWindow(f"daily:{provider}:{at:%Y-%m-%d}", f"daily_budgets.{provider}", limit)]

    now = wall or [datetime.now(timezone.utc)]
    gate = BudgetGate(me="w1", send=keeper.send, windows=windows, timeout_s=timeout_s, monotonic=clock,
                      clock=lambda: now[0])
    keeper.gate = gate
    return gate


def test_calls_reserve_from_the_lease_and_the_next_lease_is_asked_for_before_this_one_runs_out():
    async def run() -> None:
        keeper, clock = Keeper(limit=100.0), Clock()
        gate = gate_for(keeper, clock, limit=100.0)  # a lease is 50 calls, or 5% of the window: 5.0 here
        grants = []
        for i in range(120):
            grants.append(await gate.reserve(f"r{i}", "m", "openai", 0.1))
            await asyncio.sleep(0)  # as between requests: the ask ahead goes out
        assert all(g.granted for g in grants)
        assert {g.call_id for g in grants} == {keeper.asks()[0].call_id}
        # The first call waited for a lease; below a quarter of a lease left, the next was asked for
        # in the background, so no other call waited.
        assert [a.amount for a in keeper.asks()] == [pytest.approx(5.0)] * 3
        assert gate.wait_summary()["count"] == 120 and gate.wait_summary()["asked"] == 1 and gate.ahead == 2
        settled = [gate.settlement(g, f"r{i}", "m", "openai", 0.04) for i, g in enumerate(grants)]
        assert {(s.kind, s.call_id, s.amount) for s in settled} == {("settle", grants[0].call_id, 0.04)}
        (lease,) = gate.leases()
        assert lease == {"provider": "openai", "windows": [lease["windows"][0]], "granted_usd": pytest.approx(15.0),
                         "reserved_usd": 0, "spent_usd": pytest.approx(4.8), "in_flight": 0}

    asyncio.run(run())


def test_calls_queued_behind_one_ask_are_covered_by_it():
    async def run() -> None:
        keeper, clock = Keeper(limit=1.0), Clock()
        gate = gate_for(keeper, clock, limit=1.0)  # a lease would be 0.05: less than 20 calls need
        grants = await asyncio.gather(*(gate.reserve(f"r{i}", "m", "openai", 0.01) for i in range(20)))
        assert all(g.granted for g in grants)
        await asyncio.gather(*gate._ahead_tasks)  # noqa: SLF001 - the ask ahead of need, if one went out
        waited_for = len(keeper.asks()) - gate.ahead  # not counting the lease asked for ahead of need
        assert waited_for <= 2, [(a.amount, a.need) for a in keeper.asks()]
        assert keeper.asks()[-1].need >= 0.01

    asyncio.run(run())


def test_near_the_cap_a_call_gets_what_is_left_if_it_covers_it_and_is_refused_when_nothing_fits():
    async def run() -> None:
        keeper, clock = Keeper(limit=0.25), Clock()
        gate = gate_for(keeper, clock, limit=0.25)
        first = await gate.reserve("a", "m", "openai", 0.2)
        assert first.granted and keeper.held == pytest.approx(0.2)  # want 0.0125 < need: need was granted
        second = await gate.reserve("b", "m", "openai", 0.2)
        assert not second.granted and second.refusal == "full"
        gate.settlement(first, "a", "m", "openai", 0.0)  # failed: its 0.2 is the lease's room again
        assert (await gate.reserve("c", "m", "openai", 0.2)).granted
        assert len(keeper.asks()) == 2

    asyncio.run(run())


def test_an_idle_lease_gives_back_only_its_unreserved_room_and_a_busy_one_keeps_it():
    async def run() -> None:
        keeper, clock = Keeper(limit=100.0), Clock()
        gate = gate_for(keeper, clock, limit=100.0)
        busy = await gate.reserve("busy", "m", "openai", 1.0)
        clock.now += LEASE_IDLE_S + 1
        await gate.tick()
        assert not [r for r in keeper.sent if r.kind == "give_back"], "a call is in flight under it"
        gate.settlement(busy, "busy", "m", "openai", 0.3)
        clock.now += LEASE_IDLE_S + 1
        await gate.tick()
        (given,) = [r for r in keeper.sent if r.kind == "give_back"]
        assert given.amount == pytest.approx(5.0 - 0.3), "what settled calls spent stays held until seen"
        assert gate.leases() == []
        again = await gate.reserve("next", "m", "openai", 1.0)
        assert again.granted and again.call_id != busy.call_id

    asyncio.run(run())


def test_a_lease_the_keeper_released_is_dropped_at_its_renewal():
    async def run() -> None:
        keeper, clock = Keeper(limit=100.0), Clock()
        gate = gate_for(keeper, clock, limit=100.0)
        held = await gate.reserve("long", "m", "openai", 1.0)
        clock.now += LEASE_RENEW_S + 1
        await gate.tick()
        assert [r.kind for r in keeper.sent] == ["reserve", "renew"] and len(gate.leases()) == 1
        keeper.released.add(held.call_id)
        clock.now += LEASE_RENEW_S + 1
        await gate.tick()
        assert gate.leases() == []
        gate.settlement(held, "long", "m", "openai", 0.5)  # its call still settles
        assert (await gate.reserve("after", "m", "openai", 1.0)).call_id != held.call_id

    asyncio.run(run())


def test_a_keeper_that_does_not_answer_refuses_the_call():
    async def run() -> None:
        keeper, clock = Keeper(limit=100.0), Clock()
        keeper.silent = True
        gate = gate_for(keeper, clock, timeout_s=0.05)
        grant = await gate.reserve("r", "m", "openai", 1.0)
        assert not grant.granted and "no answer from the budget keeper within 0.05 s" in grant.refusal

    asyncio.run(run())


def test_after_midnight_a_call_takes_a_lease_on_the_new_days_window():
    async def run() -> None:
        keeper, clock = Keeper(limit=100.0), Clock()
        today = datetime.now(timezone.utc)
        wall = [today]
        gate = gate_for(keeper, clock, limit=100.0, wall=wall)
        before = await gate.reserve("a", "m", "openai", 1.0)
        wall[0] = today + timedelta(days=1)
        after = await gate.reserve("b", "m", "openai", 1.0)
        assert before.call_id != after.call_id
        assert [lease["windows"] for lease in gate.leases()] == [
            [f"daily:openai:{today:%Y-%m-%d}"], [f"daily:openai:{today + timedelta(days=1):%Y-%m-%d}"]]

    asyncio.run(run())


def test_near_the_cap_a_refused_ask_ahead_of_need_is_not_repeated_for_every_call():
    async def run() -> None:
        keeper, clock = Keeper(limit=100.0), Clock()
        gate = gate_for(keeper, clock, limit=100.0)
        first = await gate.reserve("first", "m", "openai", 0.1)  # a lease of 5.0
        keeper.limit = keeper.held  # the cap is reached: nothing more is granted
        for i in range(48):
            assert (await gate.reserve(f"r{i}", "m", "openai", 0.1)).granted
            await asyncio.sleep(0)
        ahead = [a for a in keeper.asks() if a.ahead]
        assert len(ahead) == 1 and gate.ahead == 0, [(a.amount, a.ahead) for a in keeper.asks()]
        clock.now += 1.5
        assert (await gate.reserve("later", "m", "openai", 0.1)).granted
        await asyncio.gather(*gate._ahead_tasks)  # noqa: SLF001
        assert len([a for a in keeper.asks() if a.ahead]) == 2, "asked again after the pause"
        assert first.granted

    asyncio.run(run())
