"""A worker's side of the budgets: leases from the budget keeper, and reservations made from them in memory.

A lease is a slice of the budget windows of one provider (its daily and monthly windows, and the
monthly total) that the keeper has set aside for this worker. reserve() takes a call's estimate
from the lease without leaving the process. When less than a quarter of a lease's worth is left it
asks the keeper for the next one in the background (a BudgetRequest on llm.budget, answered on
llm.budget-decisions); a call waits for the keeper only when the lease has run short anyway. The keeper grants a
lease only while spend + every hold and lease + the grant fits each window, so the caps hold
exactly as they did with one reservation per call: what one worker may spend and another may not
see is at most its lease, which the keeper has already counted.

When the keeper does not answer in time the call is refused (fail closed): spending without a
grant is the failure this exists to prevent. A refusal only because other holds and leases take
the room (spend alone leaves room) is asked again for up to HELD_BACK_WAIT_S: leases in use settle
for less than they hold, and idle ones are given back.

What is given back, and when:
- a lease unused for LEASE_IDLE_S with no call in flight: all of its unreserved room (tick());
- on shutdown: the same, for every lease (give_back_all());
- never what calls in flight hold, nor what settled calls spent: a settlement rides in its answer's
  transaction and may reach the keeper after the give-back, so the keeper keeps that much held
  until it has seen the settlements.
A lease in use is renewed every LEASE_RENEW_S; the keeper releases one that is neither renewed nor
topped up for its HOLD_TTL_S (its worker died), and a renew it refuses drops the lease here.

settlement() only builds the settlement: the router publishes it in the same transaction as the
response (streams/kafka/outbox.py), so a call counts once, and only when its answer is out.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from streams.events import BudgetDecision, BudgetRequest, BudgetState, utcnow
from streams.routing.budgets import BudgetWindow

__all__ = ["BudgetGate", "Grant", "Lease", "LEASE_IDLE_S", "LEASE_RENEW_S"]

Send = Callable[[BudgetRequest], Awaitable[None]]
Windows = Callable[[str, datetime], list[BudgetWindow]]

LEASE_IDLE_S = 5.0
LEASE_RENEW_S = 60.0  # well inside the keeper's HOLD_TTL_S (300 s)
# A lease asked for is this many calls of the asking size, but never more than this share of the
# smallest window it covers: two workers near a cap must not strand much of it in each other's leases.
LEASE_CALLS = 50
LEASE_SHARE = 0.05
_EPSILON = 1e-12
REFUSAL_FRESH_S = 0.05
AHEAD_AT = 0.25  # a lease with less than this share of a lease's worth left asks for the next
AHEAD_PAUSE_S = 1.0  # after such an ask was refused, how long before the next


@dataclass(eq=False)
class Lease:
    lease_id: str
    provider: str
    windows: tuple[str, ...]  # the window keys it covers
    at: datetime  # when it was taken: the keeper derives the same windows from it
    smallest_limit: float  # of those windows: what a lease's worth is bounded by
    granted: float = 0.0  # everything the keeper granted, less what was given back
    reserved: float = 0.0  # estimates of the calls in flight
    spent: float = 0.0  # what settled calls cost
    in_flight: int = 0
    last_used: float = 0.0  # monotonic
    last_told: float = 0.0  # monotonic: the keeper last heard of it
    no_ahead_until: float = 0.0  # monotonic
    waiting: float = 0.0  # what the calls waiting for more room would reserve
    dropped: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    refusal: tuple[BudgetDecision, float, float] | None = None  # the last refusal, for how much, when

    @property
    def room(self) -> float:
        return self.granted - self.reserved - self.spent

    def refused_lately(self, amount: float, now: float) -> BudgetDecision | None:
        """The last refusal, if it was for no more than this call lacks and is fresh: calls queued behind
        one refused ask take its answer rather than each asking again."""
        if self.refusal is None:
            return None
        decision, least, when = self.refusal
        return decision if now - when < REFUSAL_FRESH_S and amount - self.room >= least - _EPSILON else None


class Grant:
    """The outcome of one reservation: granted (settle it), or refused with the reason."""

    def __init__(self, granted: bool, refusal: str | None, waited_ms: float, lease: Lease | None = None,
                 amount: float = 0.0):
        self.granted = granted
        self.refusal = refusal
        self.waited_ms = waited_ms
        self.lease = lease
        self.amount = amount

    @property
    def call_id(self) -> str:
        return self.lease.lease_id if self.lease is not None else ""


class BudgetGate:
    HELD_BACK_WAIT_S = 3.0

    # Long enough to ride out a rebalance after a worker dies: the session timeout (10 s), the
    # rebalance, and the keeper's table recovery on its new owner.
    def __init__(self, *, me: str, send: Send, windows: Windows, timeout_s: float = 30.0,
                 clock: Callable[[], datetime] = utcnow, monotonic: Callable[[], float] = time.monotonic):
        self.me = me
        self._send = send
        self._windows = windows
        self._timeout_s = timeout_s
        self._clock = clock
        self._monotonic = monotonic
        self._leases: dict[tuple[str, tuple[str, ...]], Lease] = {}
        self._waiting: dict[str, asyncio.Future[BudgetDecision]] = {}  # ask id -> its answer
        self.windows: dict[str, BudgetState] = {}  # window key -> the keeper's last broadcast
        self.waits_ms: deque[float] = deque(maxlen=10_000)  # how long recent reservations took
        self.asks = 0  # reservations that had to ask the keeper
        self.ahead = 0  # leases topped up before they ran short
        self._ahead_tasks: set[asyncio.Task] = set()

    async def reserve(self, request_id: str, model: str, provider: str, amount: float) -> Grant:
        """From the lease if it has room; else ask for more until granted, refused for good, or
        HELD_BACK_WAIT_S passed while other holds kept it out."""
        started = time.perf_counter()
        delay = 0.01
        asked = False
        while True:
            lease = self._lease(provider)
            if lease.room + _EPSILON >= amount:
                lease.reserved += amount
                lease.in_flight += 1
                lease.last_used = self._monotonic()
                self.asks += asked
                self.waits_ms.append(_ms(started))
                self._top_up_ahead(lease, request_id, model, amount)
                return Grant(True, None, self.waits_ms[-1], lease, amount)
            asked = True
            lease.last_used = self._monotonic()
            lease.waiting += amount
            try:
                async with lease.lock:
                    if lease.dropped or lease.room + _EPSILON >= amount:
                        continue  # another call's ask made room, or the lease is gone: look again
                    decision = lease.refused_lately(amount, self._monotonic())
                    if decision is None:
                        decision = await self._top_up(lease, request_id, model, amount)
                    if decision is not None and decision.granted:
                        continue
            finally:
                lease.waiting -= amount
            if decision is None:
                refusal = f"no answer from the budget keeper within {self._timeout_s:g} s"
                break
            if not decision.held_back or time.perf_counter() - started > self.HELD_BACK_WAIT_S:
                refusal = decision.refusal
                break
            await asyncio.sleep(delay)  # calls in flight will settle, most for less than they hold
            delay = min(delay * 2, 0.2)
        self.asks += 1
        self.waits_ms.append(_ms(started))
        return Grant(False, refusal, self.waits_ms[-1])

    def settlement(self, grant: Grant, request_id: str, model: str, provider: str, cost: float) -> BudgetRequest:
        """What the call cost (0 if it failed), for llm.budget-settlements; published with the response, once."""
        lease = grant.lease
        assert lease is not None, "only a granted reservation is settled"
        lease.reserved -= grant.amount
        lease.spent += cost
        lease.in_flight -= 1
        lease.last_used = self._monotonic()
        return BudgetRequest(kind="settle", request_id=request_id, model=model, provider=provider,
                             worker=self.me, amount=cost, call_id=lease.lease_id, at=self._clock())

    async def _top_up(self, lease: Lease, request_id: str, model: str, amount: float) -> BudgetDecision | None:
        """One ask for every call waiting on the lease: enough for all of them, and for a lease's worth more."""
        least = amount - lease.room
        need = max(least, lease.waiting - lease.room)
        want = max(need, _lease_size(lease, amount))
        decision = await self._reserve_more(lease, request_id, model, want, need, least)
        if decision is not None and not decision.granted:
            lease.refusal = (decision, least, self._monotonic())
        return decision

    async def _reserve_more(self, lease: Lease, request_id: str, model: str, want: float, need: float,
                            least: float, *, ahead: bool = False) -> BudgetDecision | None:
        """Ask the keeper to add to the lease; what it grants is the lease's at once."""
        decision = await self._ask("reserve", lease, request_id, model, want, need, least, ahead=ahead)
        if decision is not None and decision.granted:
            lease.granted += decision.amount
        return decision

    def _top_up_ahead(self, lease: Lease, request_id: str, model: str, amount: float) -> None:
        """Ask for the next lease's worth before this one runs out, so that under steady load no call
        waits for the keeper. Only a whole lease's worth: near a cap the keeper refuses it, and the
        calls that then run short ask for what they need themselves."""
        size = _lease_size(lease, amount)
        if (lease.room >= size * AHEAD_AT or lease.lock.locked() or lease.dropped
                or self._monotonic() < lease.no_ahead_until):
            return

        async def ask() -> None:
            async with lease.lock:
                if lease.room < size * AHEAD_AT and not lease.dropped:
                    decision = await self._reserve_more(lease, request_id, model, size, size, size, ahead=True)
                    if decision is not None and decision.granted:
                        self.ahead += 1
                    else:  # near a cap: not one refused ask per call from here on
                        lease.no_ahead_until = self._monotonic() + AHEAD_PAUSE_S

        task = asyncio.get_running_loop().create_task(ask())
        self._ahead_tasks.add(task)  # held, or the loop may collect it mid-ask
        task.add_done_callback(self._ahead_tasks.discard)

    async def tick(self) -> None:
        """Give back idle leases, renew busy ones: call about once a second."""
        now = self._monotonic()
        for key, lease in list(self._leases.items()):
            if lease.lock.locked():
                continue  # an ask under way: the lease is in use
            if lease.in_flight == 0 and now - lease.last_used >= LEASE_IDLE_S:
                self._drop(key, lease)
                await self._give_back(lease)
            elif now - lease.last_told >= LEASE_RENEW_S:
                async with lease.lock:
                    decision = await self._ask("renew", lease, lease.lease_id, "", 0.0, 0.0)
                if decision is not None and not decision.granted:
                    self._drop(key, lease)  # released by the keeper: its room may be someone else's now

    async def give_back_all(self) -> None:
        for key, lease in list(self._leases.items()):
            self._drop(key, lease)
            await self._give_back(lease)

    def apply_decision(self, decision: BudgetDecision) -> None:
        if decision.worker != self.me:
            return
        future = self._waiting.get(decision.ask_id)
        if future is not None and not future.done():
            future.set_result(decision)

    def apply_state(self, state: BudgetState) -> None:
        self.windows[state.key] = state

    def wait_summary(self) -> dict[str, float]:
        """Reservations, ms: what the budget check adds to a request. `asked`: how many needed the keeper."""
        if not self.waits_ms:
            return {}
        waits = sorted(self.waits_ms)
        return {"count": len(waits), "asked": self.asks, "topped_up_ahead": self.ahead,
                "p50_ms": round(statistics.median(waits), 3),
                "p95_ms": round(waits[int(0.95 * (len(waits) - 1))], 3), "max_ms": round(waits[-1], 3)}

    def leases(self) -> list[dict[str, object]]:
        return [{"provider": lease.provider, "windows": list(lease.windows), "granted_usd": round(lease.granted, 9),
                 "reserved_usd": round(lease.reserved, 9), "spent_usd": round(lease.spent, 9),
                 "in_flight": lease.in_flight} for lease in self._leases.values()]

    def _lease(self, provider: str) -> Lease:
        # The windows of now: after midnight (UTC) a call takes a new lease; the old one is given
        # back once its calls have settled.
        now = self._clock()
        windows = self._windows(provider, now)
        key = (provider, tuple(window.key for window in windows))
        lease = self._leases.get(key)
        if lease is None:
            lease = self._leases[key] = Lease(uuid.uuid4().hex, provider, key[1], now,
                                              min(window.limit for window in windows))
        return lease

    def _drop(self, key: tuple[str, tuple[str, ...]], lease: Lease) -> None:
        if self._leases.get(key) is lease:
            self._leases.pop(key)
        lease.dropped = True

    async def _give_back(self, lease: Lease) -> None:
        unused = lease.room
        if unused > 0:
            lease.granted -= unused
            await self._send(self._request("give_back", lease, lease.lease_id, "", unused, 0.0))

    async def _ask(self, kind: str, lease: Lease, request_id: str, model: str, amount: float,
                   need: float, least: float = 0.0, *, ahead: bool = False) -> BudgetDecision | None:
        # Matched by an id of its own: a keeper replaying after a restart may answer an older ask again.
        ask_id = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        self._waiting[ask_id] = future
        try:
            await self._send(self._request(kind, lease, request_id, model, amount, need, least, ask_id, ahead))
            lease.last_told = self._monotonic()
            return await asyncio.wait_for(future, self._timeout_s)
        except asyncio.TimeoutError:
            return None
        finally:
            self._waiting.pop(ask_id, None)

    def _request(self, kind: str, lease: Lease, request_id: str, model: str, amount: float,
                 need: float = 0.0, least: float = 0.0, ask_id: str = "", ahead: bool = False) -> BudgetRequest:
        return BudgetRequest(kind=kind, request_id=request_id, model=model, provider=lease.provider, worker=self.me,
                             amount=amount, need=need, least=least, call_id=lease.lease_id, at=lease.at,
                             ask_id=ask_id, ahead=ahead)


def _lease_size(lease: Lease, amount: float) -> float:
    return min(amount * LEASE_CALLS, lease.smallest_limit * LEASE_SHARE)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
