"""The budget keeper: one writer for every budget, so reservations hold across workers.

It reads llm.budget (one partition: every reservation and settlement in one order) and keeps,
in Faust tables:
  spent     window key -> USD settled
  reserved  window key -> USD held by reservations not yet settled
  holds     request_id|model|call_id -> the reservation (amount, windows, when)
  settled   request_id|model|call_id -> True, so a settlement sent twice counts once; a request
            served again after a crash is a new call, and its spend counts too
  fired     "<window key>@<threshold>" -> True, so each threshold event fires once per window

Reservations are answered on llm.budget-decisions; spend and holds are broadcast on the
compacted llm.budget-state at most once a second per window; threshold crossings go to
llm.telemetry (ClickHouse's budget_events). Spend alone may never reach exactly 100% (a
reservation that does not fit is refused), so the 100% event also fires when, past 80%, a
reservation is refused on spend alone. A hold whose worker never settles (it died) is
released after HOLD_TTL_S, counting nothing: the request is redelivered and reserves again.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime

import faust

from streams.agents.keeping import keep_each
from streams.config import HugaiConfig
from streams.events import BudgetDecision, BudgetRequest, BudgetState, BudgetThreshold
from streams.routing.budgets import BudgetWindow, crossed, first_refusal, window_of, window_start, windows_for
from streams.side_channel import SideChannel
from streams.topic_names import BUDGET, BUDGET_DECISIONS, BUDGET_STATE
from streams.topics import Topics

__all__ = ["register_budget_keeper", "HOLD_TTL_S"]

log = logging.getLogger(__name__)
HOLD_TTL_S = 300.0  # longer than any call with its retries: read timeout 60 s x 3 attempts + backoff
PUBLISH_EVERY_S = 1.0


def register_budget_keeper(app: faust.App, topics: Topics, side: SideChannel, config: HugaiConfig) -> faust.types.AgentT:
    spent = app.Table("budget-spent", default=float, partitions=1)
    reserved = app.Table("budget-reserved", default=float, partitions=1)
    holds = app.Table("budget-holds", default=None, partitions=1)
    settled = app.Table("budget-settled", default=None, partitions=1)
    fired = app.Table("budget-fired", default=None, partitions=1)
    dirty: dict[str, tuple[str, float]] = {}  # window key -> (budget, limit), to broadcast
    announced = {"done": False}  # after (re)start the keeper broadcasts every window it recovered

    async def decide(request: BudgetRequest, granted: bool, refusal: str | None = None, held_back: bool = False) -> None:
        decision = BudgetDecision(request_id=request.request_id, model=request.model, worker=request.worker,
                                  granted=granted, refusal=refusal, held_back=held_back)
        await side.send(BUDGET_DECISIONS, request.request_id.encode(), decision.to_bytes())

    def release(hold_id: str) -> dict | None:
        hold = holds.get(hold_id)
        if hold is None:
            return None
        for key, budget, limit in hold["windows"]:
            reserved[key] = max(0.0, reserved[key] - hold["amount"])
            dirty[key] = (budget, limit)
        holds.pop(hold_id)
        return hold

    async def settle(request: BudgetRequest) -> None:
        if settled.get(request.hold_id):
            return  # counted already
        hold = release(request.hold_id)
        windows = windows_for(config, request.provider, datetime.fromisoformat(hold["at"]) if hold else request.at)
        for window in windows:
            before = spent[window.key]
            spent[window.key] = before + request.amount
            dirty[window.key] = (window.budget, window.limit)
            for threshold in crossed(before, before + request.amount, window.limit):
                await fire(window, threshold, before + request.amount)
        settled[request.hold_id] = True

    async def fire(window: BudgetWindow, threshold: float, spent_usd: float) -> None:
        marker = f"{window.key}@{threshold:g}"
        if fired.get(marker):
            return
        fired[marker] = True
        event = BudgetThreshold(event_id=uuid.uuid5(uuid.NAMESPACE_URL, marker).hex, budget=window.budget,
                                window_start=window_start(window.key), threshold=threshold,
                                spent_usd=round(spent_usd, 9), limit_usd=window.limit)
        await topics.telemetry.send(key=window.key.encode(), value=event.to_bytes(), force=True)
        log.warning("budget %s (%s) at %d%%: $%.6f of $%g", window.budget, window.key, threshold * 100,
                    spent_usd, window.limit)

    async def apply(request: BudgetRequest) -> None:
        if request.kind == "settle":
            await settle(request)
            return
        if settled.get(request.hold_id):  # redelivered after it was paid for: nothing new to hold
            await decide(request, True)
            return
        release(request.hold_id)  # a second ask for the same call replaces its hold
        windows = windows_for(config, request.provider, request.at)
        refusal = first_refusal(windows, request.amount, spent, reserved)
        for window in windows if refusal else ():
            # Spend may never reach exactly 100%: a reservation that does not fit is refused. So a
            # refusal on spend alone, past 80%, is the 100% event: the budget is used up.
            if spent[window.key] + request.amount > window.limit and fired.get(f"{window.key}@0.8"):
                await fire(window, 1.0, spent[window.key])
        if refusal is None:
            for window in windows:
                reserved[window.key] = reserved[window.key] + request.amount
                dirty[window.key] = (window.budget, window.limit)
            holds[request.hold_id] = {"amount": request.amount, "windows": [[w.key, w.budget, w.limit] for w in windows],
                                      "at": request.at.isoformat(), "held_at": time.time()}
        held_back = refusal is not None and first_refusal(windows, request.amount, spent, {}) is None
        await decide(request, refusal is None, refusal, held_back)

    @app.agent(topics.budget, name="keep_budgets")
    async def keep_budgets(stream: faust.StreamT) -> None:
        await keep_each(stream, BudgetRequest, apply)

    @app.timer(interval=PUBLISH_EVERY_S)
    async def publish_budgets() -> None:
        if not _owns_budget_partition(app):
            return
        now = time.time()
        if not announced["done"]:
            announced["done"] = True
            for key in list(spent.keys()):
                if (window := window_of(config, key)) is not None:
                    dirty[key] = (window.budget, window.limit)
        for hold_id, hold in list(holds.items()):
            if now - hold["held_at"] > HOLD_TTL_S:
                log.warning("releasing the hold of %s: its worker never settled it", hold_id)
                release(hold_id)
        for key, (budget, limit) in list(dirty.items()):
            dirty.pop(key)
            state = BudgetState(key=key, budget=budget, limit_usd=limit, spent_usd=round(spent[key], 9),
                                reserved_usd=round(reserved[key], 9), at=now)
            await side.send(BUDGET_STATE, key.encode(), state.to_bytes())

    return keep_budgets


def _owns_budget_partition(app: faust.App) -> bool:
    """Timers run on every worker; only the keeper (the active owner of llm.budget) may touch its tables."""
    return any(tp.topic == BUDGET for tp in app.assignor.assigned_actives())

