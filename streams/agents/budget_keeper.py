"""The budget keeper: one writer for every budget, so reservations hold across workers.

It reads llm.budget (reservations) and llm.budget-settlements (settlements, written in the
answers' transactions), one partition each, and keeps one Faust table, `budget-ledger`:
  "ledger"      {"offsets": topic -> the last offset applied, "spent": window key -> USD,
                 "fired": ["<window key>@<threshold>", ...]}
  "hold:<id>"   a reservation not yet settled (amount, windows, when); reserved amounts are
                summed from the holds when needed (as many as calls in flight), so no copy in
                memory can go stale across a rebalance or a table recovery

Why one table with the offset inside: a keeper killed after some of its changelog writes and
before its consumer commit is replayed from the commit. Spend and "this event was applied" must
then be one write, or a settlement is counted twice (seen in the crash test with separate spent
and settled tables). The ledger record carries both; events at or before its offsets change no
spend again. One table has one changelog partition, written in order, so the holds an applied
event changed were written before its ledger record.

The other way round, a commit past ledger writes that never left the worker (Faust's pre-commit
flush gives up on a slow send), the keeper resumes from the ledger's offsets instead of the commit
(app.resume_from, read by streams/app/faust_app.py), so no settlement is skipped either.

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
from streams.routing.budgets import BudgetWindow, crossed, first_refusal, window_of, window_start, windows_for

__all__ = ["register_budget_keeper", "HOLD_TTL_S"]

log = logging.getLogger(__name__)
HOLD_TTL_S = 300.0  # longer than any call with its retries: read timeout 60 s x 3 attempts + backoff
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

    def current_reserved() -> dict[str, float]:
        reserved: dict[str, float] = defaultdict(float)
        for hold in holds().values():
            for key, _budget, _limit in hold["windows"]:
                reserved[key] += hold["amount"]
        return reserved

    def ledger() -> dict:
        return table.get(LEDGER) or {"offsets": {}, "spent": {}, "fired": []}

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

    async def decide(request: BudgetRequest, granted: bool, refusal: str | None = None, held_back: bool = False) -> None:
        decision = BudgetDecision(request_id=request.request_id, model=request.model, worker=request.worker,
                                  granted=granted, refusal=refusal, held_back=held_back)
        await side.send(BUDGET_DECISIONS, request.request_id.encode(), decision.to_bytes())

    def release(hold_id: str) -> dict | None:
        hold = table.get(f"hold:{hold_id}")
        if hold is None:
            return None
        for key, budget, limit in hold["windows"]:
            dirty[key] = (budget, limit)
        table.pop(f"hold:{hold_id}")
        return hold

    async def settle(request: BudgetRequest, where: tuple[str, int]) -> None:
        hold = release(request.hold_id)
        record = ledger()
        if applied(record, where):
            return  # applied before a restart: its spend is in the ledger already
        spent, fired = dict(record["spent"]), list(record["fired"])
        due: list[tuple[BudgetWindow, float, float]] = []
        for window in windows_for(config, request.provider, datetime.fromisoformat(hold["at"]) if hold else request.at):
            before = spent.get(window.key, 0.0)
            spent[window.key] = before + request.amount
            dirty[window.key] = (window.budget, window.limit)
            for threshold in crossed(before, before + request.amount, window.limit):
                if f"{window.key}@{threshold:g}" not in fired:
                    fired.append(f"{window.key}@{threshold:g}")
                    due.append((window, threshold, before + request.amount))
        table[LEDGER] = {"offsets": after(record, where),
                         "spent": {key: usd for key, usd in spent.items() if _recent(key)},
                         "fired": [marker for marker in fired if _recent(marker.rsplit("@", 1)[0])]}
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

    async def apply(request: BudgetRequest) -> None:
        message = faust.current_event().message
        where = (message.topic, message.offset)
        if request.kind == "settle":
            await settle(request, where)
            return
        record = ledger()
        spent = record["spent"]
        if applied(record, where):  # applied before a restart: answer as it was answered
            await decide(request, table.get(f"hold:{request.hold_id}") is not None)
            return
        release(request.hold_id)  # a second ask for the same call replaces its hold
        windows = windows_for(config, request.provider, request.at)
        amounts = current_reserved()
        refusal = first_refusal(windows, request.amount, spent, amounts)
        for window in windows if refusal else ():
            # Spend may never reach exactly 100%: a reservation that does not fit is refused. So a
            # refusal on spend alone, past 80%, is the 100% event: the budget is used up.
            if spent.get(window.key, 0.0) + request.amount > window.limit and f"{window.key}@0.8" in record["fired"]:
                await fire_used_up(window, where)
        if refusal is None:
            for window in windows:
                dirty[window.key] = (window.budget, window.limit)
            table[f"hold:{request.hold_id}"] = {"amount": request.amount, "at": request.at.isoformat(),
                                                "windows": [[w.key, w.budget, w.limit] for w in windows],
                                                "held_at": time.time()}
        # Recorded as applied (after the hold, in the same changelog): a replay must not hold it again.
        record = ledger()  # again: fire_used_up may have written it
        table[LEDGER] = {**record, "offsets": after(record, where)}
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
        spent = ledger()["spent"]
        if not announced["done"]:
            announced["done"] = True
            for key in spent:
                if (window := window_of(config, key)) is not None:
                    dirty[key] = (window.budget, window.limit)
        for hold_id, hold in holds().items():
            if now - hold["held_at"] > HOLD_TTL_S:
                log.warning("releasing the hold of %s: its worker never settled it", hold_id)
                release(hold_id)
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
