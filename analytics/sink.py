"""The sink: its own process and consumer group, from the telemetry topic into ClickHouse.

Routing never waits on ClickHouse, and embedded chdb has exactly one owner: this process.
Rows go in batches bounded by size and by age. The consumer offset is committed only after the
batch is written, so an outage loses nothing: the batch is retried until ClickHouse is back.
Delivery is at least once. A replayed row never counts twice: the sink skips ids that are
already stored (which also keeps the materialized rollups exact), and ReplacingMergeTree folds
whatever slips through into the row it repeats.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from analytics.store import Store, StoreError

__all__ = ["FLUSH_EVERY_S", "SinkConfig", "TelemetrySink", "TABLE_FOR_EVENT", "quote", "rows_of"]

log = logging.getLogger(__name__)

# event_type on the wire -> the table its rows go to.
TABLE_FOR_EVENT = {
    "request_completed": "requests",
    "attempt_completed": "attempts",
    "route_decided": "routing_decisions",
    "feedback_given": "feedback",
    "key_rotation_due": "security_events",
    "queue_depth_sampled": "queue_depth",
    "breaker_changed": "breaker_events",
    "budget_threshold": "budget_events",
    "control_command": "control_audit",
    "approval_requested": "control_audit",
    "approval_decided": "control_audit",
}
# A record holding the events of one served request (streams/events/telemetry.py RequestServed).
SERVED = "request_served"
# Tables whose rows have one id each: a row whose id is stored already is not inserted again.
UNIQUE_KEY = {"requests": "request_id", "attempts": "attempt_id", "routing_decisions": "request_id"}


def _audit_row(kind: str, event: dict) -> dict:
    """Operators' commands and the approval queue, as control_audit rows: who, when, what, why."""
    if kind == "control_command":
        target = event["target"] + (f" -> {event['model']}" if event.get("model") else "")
        return {"event_id": event["event_id"], "at": event["at"], "actor": event["actor"], "command": event["action"],
                "target": target, "reason": event["reason"]}
    if kind == "approval_requested":
        return {"event_id": f"requested:{event['request_id']}", "at": event["at"], "actor": "router",
                "command": "approval_requested", "target": event["request_id"],
                "reason": f"{event['task_type']} on {event['model']}, estimated ${event['estimated_cost_usd']:.6f}"}
    command = "approve" if event["approved"] else ("approval_timeout" if event["actor"] == "timeout" else "reject")
    return {"event_id": event["event_id"], "at": event["at"], "actor": event["actor"], "command": command,
            "target": event["request_id"], "reason": event["reason"]}


def _row_of(event: dict) -> tuple[str, dict]:
    kind = event.pop("event_type")
    table = TABLE_FOR_EVENT[kind]
    if table == "security_events":
        event["event_type"] = kind  # that table keeps the kind as a column
    if table == "control_audit":
        event = _audit_row(kind, event)
    return table, event


def rows_of(raw: bytes | None) -> list[tuple[str, dict]]:
    """The (table, row) pairs one telemetry record files: one, or for a served request its decision,
    attempts and request, as the worker's monitoring level kept them. Raises on an unreadable record."""
    event = json.loads(raw or b"")
    events = event["events"] if event.get("event_type") == SERVED else [event]
    return [_row_of(each) for each in events]


def quote(value: object) -> str:
    """A ClickHouse string literal."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


FETCH_GATHER_BYTES = 64 * 1024
FETCH_GATHER_MS = 250
# A write costs embedded chdb 50-100 ms of CPU whether it holds 1 request or 50 (a part per table
# and per materialized view; tests.benchmarks.sink_flush), so at 0.5 s the sink took about 20% of
# a core as soon as any request came in. The real-time dashboard refreshes every 10 s.
# HUGAI_SINK_FLUSH_S sets it.
FLUSH_EVERY_S = 2.0


@dataclass(frozen=True, kw_only=True)
class SinkConfig:
    bootstrap: str
    topics: tuple[str, ...]
    group_id: str = "hugai-llm-sink"
    max_batch_rows: int = 5000
    max_batch_age_s: float = FLUSH_EVERY_S
    retry_delay_s: float = 1.0
    max_retry_delay_s: float = 30.0
    # On stop, keep reading what is already on the topics for up to this long, so a clean stop
    # leaves nothing published unwritten.
    drain_s: float = 10.0


class TelemetrySink:
    def __init__(self, config: SinkConfig, store: Store, *, on_flush: Callable[[int], None] | None = None):
        self._config = config
        self._store = store
        self._on_flush = on_flush
        self._stopping = asyncio.Event()
        self.rows_written = 0
        self.events_skipped = 0
        self._committed: dict[TopicPartition, int] = {}  # what this sink last committed, per partition

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self._config.topics,
            bootstrap_servers=self._config.bootstrap,
            group_id=self._config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            # Rows are written every max_batch_age_s anyway, so the broker may gather records for a
            # while rather than answer at the first one: at 100 requests/s the sink's CPU per answer
            # went from 2.0-2.5 ms to 1.35-1.59 ms, with batches 0.5 s apart (docs/benchmarks.md).
            fetch_min_bytes=FETCH_GATHER_BYTES,
            fetch_max_wait_ms=FETCH_GATHER_MS,
        )
        await consumer.start()
        try:
            await self._consume(consumer)
        finally:
            await consumer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        batch: dict[str, list[dict]] = {}
        offsets: dict[TopicPartition, int] = {}
        started = time.monotonic()
        pending = 0
        drain_until: float | None = None
        while True:
            if self._stopping.is_set() and drain_until is None:
                drain_until = time.monotonic() + self._config.drain_s
            fetched = await consumer.getmany(timeout_ms=100 if drain_until is None else 300,
                                             max_records=self._config.max_batch_rows)
            if drain_until is not None and not fetched:
                break
            for tp, messages in fetched.items():
                for message in messages:
                    for table, row in self._decode(message.value, tp, message.offset):
                        batch.setdefault(table, []).append(row)
                        pending += 1
                    offsets[tp] = message.offset + 1
            full = pending >= self._config.max_batch_rows
            old = time.monotonic() - started >= self._config.max_batch_age_s
            if offsets and (full or old):
                await self._write(batch)
                await consumer.commit(offsets)
                self._committed.update(offsets)
                if self._on_flush:
                    self._on_flush(pending)
                batch, offsets, pending = {}, {}, 0
                started = time.monotonic()
            elif not offsets:
                started = time.monotonic()
                if not fetched:
                    await self._commit_past_markers(consumer)
            if drain_until is not None and time.monotonic() > drain_until:
                break
        if offsets:
            await self._write(batch)
            await consumer.commit(offsets)
            self._committed.update(offsets)

    async def _commit_past_markers(self, consumer: AIOKafkaConsumer) -> None:
        """When idle, commit the position: past the transaction markers that follow the last event.

        Workers write telemetry in transactions, so a partition ends with a commit marker the
        sink never gets as a record; committing record offset + 1 alone would leave the group one
        behind for ever, and its lag (what `hugai-llm bench` waits on) never at 0.
        """
        moved = {}
        for tp in consumer.assignment():
            position = await consumer.position(tp)
            if position > self._committed.get(tp, -1):
                moved[tp] = position
        if moved:
            await consumer.commit(moved)
            self._committed.update(moved)

    def _decode(self, raw: bytes | None, tp: TopicPartition, offset: int) -> list[tuple[str, dict]]:
        try:
            return rows_of(raw)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # A record we cannot file is skipped, not retried forever: it would block every row behind it.
            self.events_skipped += 1
            log.error("skipping unreadable telemetry at %s[%d]@%d: %s", tp.topic, tp.partition, offset, type(exc).__name__)
            return []

    def _new_rows(self, table: str, rows: list[dict]) -> list[dict]:
        key = UNIQUE_KEY.get(table)
        if key is None:
            return rows
        by_id = {row[key]: row for row in rows}  # the last copy of an id in this batch
        ids = ", ".join(quote(i) for i in by_id)
        stored = {r[key] for r in self._store.query(f"SELECT {key} FROM {table} WHERE {key} IN ({ids})")}
        return [row for i, row in by_id.items() if i not in stored]

    def _insert(self, batch: dict[str, list[dict]]) -> int:
        written = 0
        for table, rows in batch.items():
            fresh = self._new_rows(table, rows)
            self._store.insert(table, fresh)
            written += len(fresh)
        return written

    async def _write(self, batch: dict[str, list[dict]]) -> None:
        delay = self._config.retry_delay_s
        while True:
            try:
                self.rows_written += await asyncio.to_thread(self._insert, batch)
                return
            except StoreError as exc:
                if self._stopping.is_set():
                    # Leave the offsets uncommitted: the next sink run writes this batch again.
                    raise
                log.warning("ClickHouse write failed, retrying in %.1fs: %s", delay, str(exc)[:200])
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._config.max_retry_delay_s)
