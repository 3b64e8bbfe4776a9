"""A worker's side of the budgets: reserve before a call, settle after it, through the budget keeper.

reserve() sends a BudgetRequest on llm.budget and waits for the keeper's BudgetDecision (read
from llm.budget-decisions by every worker; each keeps the ones for its own requests). When the
keeper does not answer in time the call is refused (fail closed): spending without a grant is
the failure this exists to prevent. A refusal only because other calls still hold reservations
(spend alone leaves room) is asked again for up to HELD_BACK_WAIT_S: most calls settle for less
than they hold, and refusing at once would strand budget under a burst.

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

from streams.events import BudgetDecision, BudgetRequest, BudgetState

__all__ = ["BudgetGate", "Grant"]

Send = Callable[[BudgetRequest], Awaitable[None]]


class Grant:
    """The outcome of one reservation: granted (settle it with its call_id), or refused with the reason."""

    def __init__(self, granted: bool, refusal: str | None, waited_ms: float, call_id: str):
        self.granted = granted
        self.refusal = refusal
        self.waited_ms = waited_ms
        self.call_id = call_id


class BudgetGate:
    HELD_BACK_WAIT_S = 3.0

    # Long enough to ride out a rebalance after a worker dies: the session timeout (10 s), the
    # rebalance, and the keeper's table recovery on its new owner.
    def __init__(self, *, me: str, send: Send, timeout_s: float = 30.0):
        self.me = me
        self._send = send
        self._timeout_s = timeout_s
        self._waiting: dict[tuple[str, str], asyncio.Future[BudgetDecision]] = {}
        self.windows: dict[str, BudgetState] = {}  # window key -> the keeper's last broadcast
        self.waits_ms: deque[float] = deque(maxlen=10_000)  # how long recent reservations took

    async def reserve(self, request_id: str, model: str, provider: str, amount: float) -> Grant:
        """Ask until granted, refused for good, or HELD_BACK_WAIT_S passed while holds kept it out."""
        started = time.perf_counter()
        call_id = uuid.uuid4().hex  # the same for every ask of this call: a later ask replaces the hold
        delay = 0.01
        while True:
            decision = await self._ask(request_id, model, provider, amount, call_id)
            if decision is None:
                return Grant(False, f"no answer from the budget keeper within {self._timeout_s:g} s", _ms(started),
                             call_id)
            if decision.granted or not decision.held_back or time.perf_counter() - started > self.HELD_BACK_WAIT_S:
                break
            await asyncio.sleep(delay)  # calls in flight will settle, most for less than they hold
            delay = min(delay * 2, 0.2)
        self.waits_ms.append(_ms(started))
        return Grant(decision.granted, decision.refusal, self.waits_ms[-1], call_id)

    async def _ask(self, request_id: str, model: str, provider: str, amount: float,
                   call_id: str) -> BudgetDecision | None:
        key = (request_id, model)
        future = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        try:
            await self._send(BudgetRequest(kind="reserve", request_id=request_id, model=model, provider=provider,
                                           worker=self.me, amount=amount, call_id=call_id))
            return await asyncio.wait_for(future, self._timeout_s)
        except asyncio.TimeoutError:
            return None
        finally:
            self._waiting.pop(key, None)

    def settlement(self, grant: Grant, request_id: str, model: str, provider: str, cost: float) -> BudgetRequest:
        """What the call cost (0 if it failed), for llm.budget; published with the response, once."""
        return BudgetRequest(kind="settle", request_id=request_id, model=model, provider=provider,
                             worker=self.me, amount=cost, call_id=grant.call_id)

    def apply_decision(self, decision: BudgetDecision) -> None:
        if decision.worker != self.me:
            return
        future = self._waiting.get((decision.request_id, decision.model))
        if future is not None and not future.done():
            future.set_result(decision)

    def apply_state(self, state: BudgetState) -> None:
        self.windows[state.key] = state

    def wait_summary(self) -> dict[str, float]:
        """Reservation round trips, ms: what the budget check adds to a request."""
        if not self.waits_ms:
            return {}
        waits = sorted(self.waits_ms)
        return {"count": len(waits), "p50_ms": round(statistics.median(waits), 3),
                "p95_ms": round(waits[int(0.95 * (len(waits) - 1))], 3), "max_ms": round(waits[-1], 3)}


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
