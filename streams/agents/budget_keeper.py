"""The budget keeper: one writer for every budget, so budgets hold across workers.

It reads llm.budget (leases asked for, renewed, given back) and llm.budget-settlements (what calls
under a lease cost, written in the answers' transactions), one partition each, and keeps one Faust
table, `budget-ledger`:
  "ledger"      {"offsets": topic -> the last offset applied, "spent": window key -> USD,
                 "fired": ["<window key>@<threshold>", ...],
                 "settled": lease id -> USD its settlements have spent so far}
  "hold:<id>"   a worker's lease (streams/agents/budget_gate.py): amount granted less given back,
                its windows, when last renewed, and the offsets of the events that changed it.
                What a lease still holds is its amount less its settled sum; reserved amounts
                are summed from the holds when needed (a few per worker), so no copy in memory
                can go stale across a rebalance or a table recovery.

A grant must fit: for every window, spent + what every lease still holds + the grant <= limit.
So the caps hold as exactly as with a hold per call; a settlement costs one ledger write, and a
reservation inside a lease costs no event at all.

Why one table with the offset inside: a keeper killed after some of its changelog writes and
before its consumer commit is replayed from the commit. Spend and "this event was applied" must
then be one write, or a settlement is counted twice (seen in the crash test with separate spent
and settled tables). The ledger record carries both; events at or before its offsets change no
spend again. One table has one changelog partition, written in order, so the holds an applied
event changed were written before its ledger record.

The other way round, a commit past ledger writes that never left the worker (Faust's pre-commit
flush gives up on a slow send), the keeper resumes from the ledger's offsets instead of the commit
(app.resume_from, read by streams/app/faust_app.py), so no settlement is skipped either.

Asks are answered on llm.budget-decisions; spend and holds are broadcast on the compacted
llm.budget-state at most once a second per window; threshold crossings go to llm.telemetry
(ClickHouse's budget_events). Spend alone may never reach exactly 100% (a grant that does not fit
is refused), so the 100% event also fires when, past 80%, an ask for a call is refused on spend
alone (an ask ahead of need refused is not a call refused). A lease neither renewed nor topped up
for HOLD_TTL_S (its worker died) is released, counting nothing: the requests it was serving are
redelivered and reserve again elsewhere. A lease that holds nothing more (spent, or given back) is
released at the next ask, renewal or give-back (not on settlements: one per answer).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import faust

from streams.agents.keeping import keep_each
from streams.config import HugaiConfig
from streams.events import BudgetDecision, BudgetRequest, BudgetState, BudgetThreshold
from streams.events.topic_names import BUDGET, BUDGET_DECISIONS, BUDGET_STATE, SETTLEMENTS
from streams.kafka.side_channel import SideChannel
from streams.kafka.topics import Topics
from streams.routing.budgets import BudgetWindow, crossed, first_refusal, room, window_of, window_start, windows_for

__all__ = ["register_budget_keeper", "HOLD_TTL_S"]

log = logging.getLogger(__name__)
HOLD_TTL_S = 300.0  # well past a live worker's renewals (streams/agents/budget_gate.LEASE_RENEW_S)
PUBLISH_EVERY_S = 1.0
KEEP_WINDOWS = timedelta(days=62)  # spend of windows that started longer ago is dropped from the ledger
LEDGER = "ledger"


def register_budget_keeper(app: faust.App, topics: Topics, side: SideChannel, config: HugaiConfig) -> faust.types.AgentT:
    table = app.Table("budget-ledger", default=None, partitions=1)
    dirty: dict[str, tuple[str, float]] = {}  # window key -> (budget, limit), to broadcast
    announced = {"done": False}  # after (re)start the keeper broadcasts every window it recovered

    @app.on_partitions_assigned.connect
    async def _table_may_have_changed(sender: faust.App, assigned: object, **_: object) -> None:
        announced["done"] = False

    def holds() -> dict[str, dict]:
        return {key[5:]: value for key, value in table.items() if key.startswith("hold:")}

    def left(hold_id: str, hold: dict, record: dict) -> float:
        """What a lease still holds: granted, less what the settlements seen so far spent from it."""
        return hold["amount"] - record.get("settled", {}).get(hold_id, 0.0)

    def current_reserved() -> dict[str, float]:
        reserved: dict[str, float] = defaultdict(float)
        record = ledger()
        for hold_id, hold in holds().items():
            if (amount := left(hold_id, hold, record)) > 0:
                for key, _budget, _limit in hold["windows"]:
                    reserved[key] += amount
        return reserved

    def ledger() -> dict:
        return table.get(LEDGER) or {"offsets": {}, "spent": {}, "fired": [], "settled": {}}

    def resume_at(topic: str) -> Callable[[int], int | None]:
        def next_offset(partition: int) -> int | None:
            # Only once the ledger has applied something from `topic`: a worker whose table is
            # empty must not rewind to the log start.
            last = ledger()["offsets"].get(topic)
            return None if last is None else last + 1
        return next_offset

    app.resume_from.update({BUDGET: resume_at(BUDGET), SETTLEMENTS: resume_at(SETTLEMENTS)})

    def applied(record: dict, where: tuple[str, int]) -> bool:
        topic, offset = where
        return offset <= record["offsets"].get(topic, -1)

    def after(record: dict, where: tuple[str, int]) -> dict[str, int]:
        return {**record["offsets"], where[0]: where[1]}

    def windows_of(hold: dict | None, request: BudgetRequest) -> list[BudgetWindow]:
        """The lease's windows, as taken; a request without one (released) counts in its own time's."""
        if hold is not None:
            return [BudgetWindow(*window) for window in hold["windows"]]
        return windows_for(config, request.provider, request.at)

    def changed_by(hold: dict | None, where: tuple[str, int]) -> bool:
        """Whether this event already changed the hold: it is written before the ledger, so a
        keeper killed between the two replays an event its hold has seen."""
        return hold is not None and where[1] <= hold.get("through", {}).get(where[0], -1)

    def write_hold(hold_id: str, hold: dict, where: tuple[str, int], **changes: object) -> None:
        table[f"hold:{hold_id}"] = {**hold, **changes, "held_at": time.time(),
                                    "through": {**hold.get("through", {}), where[0]: where[1]}}
        for key, budget, limit in hold["windows"]:
            dirty[key] = (budget, limit)

    def mark_applied(where: tuple[str, int], forget: str | None = None) -> None:
        record = ledger()
        table[LEDGER] = {**record, "offsets": after(record, where), "settled": without(record, forget)}

    def without(record: dict, hold_id: str | None) -> dict[str, float]:
        """The settled sums, less one lease's: a lease released and taken again starts from nothing."""
        return {key: usd for key, usd in record.get("settled", {}).items() if key != hold_id}

    async def decide(request: BudgetRequest, granted: bool, refusal: str | None = None, held_back: bool = False,
                     amount: float = 0.0) -> None:
        decision = BudgetDecision(request_id=request.request_id, model=request.model, worker=request.worker,
                                  granted=granted, amount=amount, ask_id=request.ask_id, refusal=refusal,
                                  held_back=held_back)
        await side.send(BUDGET_DECISIONS, request.request_id.encode(), decision.to_bytes())

    def release(hold_id: str) -> dict | None:
        hold = table.get(f"hold:{hold_id}")
        if hold is None:
            return None
        for key, budget, limit in hold["windows"]:
            dirty[key] = (budget, limit)
        # Its settled sum stays in the ledger until the next settlement's write drops it, or the lease
        # is taken again and starts from nothing (lease()): one ledger write fewer per release.
        table.pop(f"hold:{hold_id}")
        return hold

    async def settle(request: BudgetRequest, where: tuple[str, int]) -> None:
        """One write: the spend, the lease's settled sum and the offset, in the one ledger record."""
        hold = table.get(f"hold:{request.hold_id}")
        record = ledger()
        if applied(record, where):
            return  # applied before a restart: its spend is in the ledger already
        spent, fired = dict(record["spent"]), list(record["fired"])
        settled = dict(record.get("settled", {}))
        windows = windows_of(hold, request)
        if hold is not None:
            settled[request.hold_id] = settled.get(request.hold_id, 0.0) + request.amount
        due: list[tuple[BudgetWindow, float, float]] = []
        for window in windows:
            before = spent.get(window.key, 0.0)
            spent[window.key] = before + request.amount
            dirty[window.key] = (window.budget, window.limit)
            for threshold in crossed(before, before + request.amount, window.limit):
                if f"{window.key}@{threshold:g}" not in fired:
                    fired.append(f"{window.key}@{threshold:g}")
                    due.append((window, threshold, before + request.amount))
        table[LEDGER] = {"offsets": after(record, where),
                         "spent": {key: usd for key, usd in spent.items() if _recent(key)},
                         "fired": [marker for marker in fired if _recent(marker.rsplit("@", 1)[0])],
                         "settled": {key: usd for key, usd in settled.items() if f"hold:{key}" in table}}
        for window, threshold, spent_usd in due:
            await announce(window, threshold, spent_usd)

    async def announce(window: BudgetWindow, threshold: float, spent_usd: float) -> None:
        marker = f"{window.key}@{threshold:g}"
        event = BudgetThreshold(event_id=uuid.uuid5(uuid.NAMESPACE_URL, marker).hex, budget=window.budget,
                                window_start=window_start(window.key), threshold=threshold,
                                spent_usd=round(spent_usd, 9), limit_usd=window.limit)
        await topics.telemetry.send(key=window.key.encode(), value=event.to_bytes(), force=True)
        log.warning("budget %s (%s) at %d%%: $%.6f of $%g", window.budget, window.key, threshold * 100,
                    spent_usd, window.limit)

    async def fire_used_up(window: BudgetWindow, where: tuple[str, int]) -> None:
        """The 100% event for a window that refused on spend alone (see the module's docstring)."""
        record = ledger()
        marker = f"{window.key}@1"
        if marker in record["fired"] or applied(record, where):
            return
        table[LEDGER] = {**record, "offsets": after(record, where), "fired": [*record["fired"], marker]}
        await announce(window, 1.0, record["spent"].get(window.key, 0.0))

    async def lease(request: BudgetRequest, where: tuple[str, int]) -> None:
        """A reserve: grant `amount` if every window has room for it, else `need`, else what room there
        is if that covers `least`; else refuse."""
        hold = table.get(f"hold:{request.hold_id}")
        record = ledger()
        if changed_by(hold, where) or applied(record, where):  # applied before a restart: answer as it was
            last = hold.get("last_grant", 0.0) if hold and hold.get("through", {}).get(where[0]) == where[1] else 0.0
            await decide(request, last > 0, None if last > 0 else "the lease was released", amount=last)
            return
        spent = record["spent"]
        windows = windows_of(hold, request)
        amounts = current_reserved()
        least = request.least or request.need
        refusal = first_refusal(windows, least, spent, amounts)
        for window in windows if refusal and not request.ahead else ():
            # Spend may never reach exactly 100%: a reservation that does not fit is refused. So a
            # refusal on spend alone, past 80%, is the 100% event: the budget is used up.
            if spent.get(window.key, 0.0) + least > window.limit and f"{window.key}@0.8" in record["fired"]:
                await fire_used_up(window, where)
        grant = 0.0
        if refusal is None:
            if first_refusal(windows, request.amount, spent, amounts) is None:
                grant = request.amount
            elif first_refusal(windows, request.need, spent, amounts) is None:
                grant = request.need
            else:
                grant = max(least, room(windows, spent, amounts))  # less than need; least fits
            base = hold or {"amount": 0.0, "at": request.at.isoformat(), "worker": request.worker,
                            "windows": [[w.key, w.budget, w.limit] for w in windows]}
            write_hold(request.hold_id, base, where, amount=base["amount"] + grant, last_grant=grant)
        # After the hold, in the same changelog: a replay must not grant it again.
        mark_applied(where, forget=request.hold_id if hold is None else None)
        held_back = refusal is not None and first_refusal(windows, least, spent, {}) is None
        await decide(request, refusal is None, refusal, held_back, amount=grant)

    def tidy() -> None:
        """Release leases that hold nothing more, or that their worker stopped renewing. Done here, in
        the stream: Faust allows table writes only while an event is being handled, not in a timer."""
        now, record = time.time(), ledger()
        for hold_id, hold in holds().items():
            if now - hold["held_at"] > HOLD_TTL_S:
                log.warning("releasing the lease %s of %s: its worker neither renewed nor used it",
                            hold_id, hold.get("worker", "a worker"))
                release(hold_id)
            elif left(hold_id, hold, record) <= 1e-12:
                release(hold_id)  # spent or given back to the last cent

    async def apply(request: BudgetRequest) -> None:
        message = faust.current_event().message
        where = (message.topic, message.offset)
        if request.kind != "settle":
            # First: a lease its worker left is not in the way of this ask. Not on settlements, one
            # per answer: a lease that holds nothing counts nothing until then (current_reserved).
            tidy()
        await apply_at(request, where)

    async def apply_at(request: BudgetRequest, where: tuple[str, int]) -> None:
        if request.kind == "settle":
            await settle(request, where)
            return
        if request.kind == "reserve":
            await lease(request, where)
            return
        hold = table.get(f"hold:{request.hold_id}")
        if hold is not None and not changed_by(hold, where) and not applied(ledger(), where):
            # give_back: never below what its settlements have yet to spend (the worker kept that back)
            amount = max(0.0, hold["amount"] - request.amount) if request.kind == "give_back" else hold["amount"]
            write_hold(request.hold_id, hold, where, amount=amount)
            mark_applied(where)
        if request.kind == "renew":
            await decide(request, hold is not None, None if hold else "the lease was released")

    @app.agent(topics.budget, name="keep_budgets")
    async def keep_budgets(stream: faust.StreamT) -> None:
        await keep_each(stream, BudgetRequest, apply)

    @app.timer(interval=PUBLISH_EVERY_S)
    async def publish_budgets() -> None:
        if not _owns_budget_partition(app):
            return
        now = time.time()
        spent = ledger()["spent"]
        if not announced["done"]:
            announced["done"] = True
            for key in spent:
                if (window := window_of(config, key)) is not None:
                    dirty[key] = (window.budget, window.limit)
        amounts = current_reserved()
        for key, (budget, limit) in list(dirty.items()):
            dirty.pop(key)
            state = BudgetState(key=key, budget=budget, limit_usd=limit, spent_usd=round(spent.get(key, 0.0), 9),
                                reserved_usd=round(amounts.get(key, 0.0), 9), at=now)
            await side.send(BUDGET_STATE, key.encode(), state.to_bytes())

    return keep_budgets


def _owns_budget_partition(app: faust.App) -> bool:
    """Timers run on every worker; only the keeper (the active owner of llm.budget) may touch its tables."""
    return any(tp.topic == BUDGET for tp in app.assignor.assigned_actives())


def _recent(window_key: str) -> bool:
    """The ledger keeps the windows of the last KEEP_WINDOWS: the record is rewritten on every settlement."""
    return window_start(window_key) >= datetime.now(timezone.utc) - KEEP_WINDOWS
