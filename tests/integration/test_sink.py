"""The sink on the real broker and chdb: replays change no number, and a store outage loses nothing."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from analytics import ChdbStore, SinkConfig, StoreError, TelemetrySink, apply_migrations
from streams.kafka.admin import ensure_topics
from tests.support.clock import iso, yesterday_at
from tests.support.kafka_io import produce

pytestmark = pytest.mark.kafka


def _config(bootstrap: str, topic: str, **options: object) -> SinkConfig:
    # What is written is under test here, not how soon: short batches keep the waits short.
    return SinkConfig(bootstrap=bootstrap, topics=(topic,), max_batch_age_s=0.5, **options)


def _events(run: str, n: int) -> list[tuple[bytes, bytes]]:
    """A request and its attempt: as the workers write them, one RequestServed record holding both,
    and for every other request as two records (as keepers and older workers write events)."""
    at = yesterday_at(10)
    started, responded = iso(at), iso(at.replace(second=1))
    events = []
    for i in range(n):
        rid = f"{run}-{i}"
        completed = {
            "event_type": "request_completed", "request_id": rid, "created_at": started,
            "responded_at": responded, "task_type": "code_generation", "environment": "test",
            "model": "gpt-4-turbo", "provider": "openai", "status": "ok", "attempts": 1, "fallback_used": False,
            "input_tokens": 100, "output_tokens": 50, "cost_usd": 0.0025, "ttft_ms": 100.0, "total_ms": 400.0 + i,
            "simulated": False}
        attempt = {
            "event_type": "attempt_completed", "attempt_id": f"{rid}:1", "request_id": rid, "attempt": 1,
            "started_at": started, "environment": "test", "task_type": "code_generation",
            "model": "gpt-4-turbo", "provider": "openai", "status": "ok", "latency_ms": 400.0,
            "cost_usd": 0.0025, "simulated": False}
        if i % 2:
            events += [(rid.encode(), json.dumps(completed).encode()), (rid.encode(), json.dumps(attempt).encode())]
        else:
            served = {"event_type": "request_served", "events": [attempt, completed]}
            events.append((rid.encode(), json.dumps(served).encode()))
    return events


async def _drain(sink: TelemetrySink, rows: int, timeout: float = 30) -> None:
    task = asyncio.create_task(sink.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while sink.rows_written < rows and loop.time() < deadline and not task.done():
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # anything beyond `rows` would show up now
    sink.stop()
    await task


def _totals(store: ChdbStore, run: str) -> dict:
    return {
        "requests": store.query(f"SELECT count() AS n FROM requests FINAL WHERE request_id LIKE '{run}-%'")[0]["n"],
        "attempts": store.query(f"SELECT count() AS n FROM attempts FINAL WHERE request_id LIKE '{run}-%'")[0]["n"],
        "day_cost": store.query("SELECT sum(cost_usd) AS c FROM spend_by_provider_day WHERE provider = 'openai'")[0]["c"],
        "minute_requests": store.query("SELECT countMerge(requests) AS n FROM model_stats_by_minute")[0]["n"],
    }


async def test_replaying_the_same_events_leaves_every_number_unchanged(kafka_bootstrap, tmp_path):
    run = uuid.uuid4().hex[:8]
    topic = f"telemetry-{run}"
    await ensure_topics(kafka_bootstrap, [topic], partitions=2)
    await produce(kafka_bootstrap, topic, _events(run, 50))
    store = ChdbStore(tmp_path / "ch")
    apply_migrations(store)
    try:
        await _drain(TelemetrySink(_config(kafka_bootstrap, topic, group_id=f"g1-{run}"), store), 100)
        first = _totals(store, run)
        assert first == {"requests": 50, "attempts": 50, "day_cost": 0.125, "minute_requests": 50}
        # The same events again, both appended to the topic and read by a group that starts over.
        await produce(kafka_bootstrap, topic, _events(run, 50))
        replay = TelemetrySink(_config(kafka_bootstrap, topic, group_id=f"g2-{run}"), store)
        await _drain(replay, 1, timeout=5)
        assert replay.rows_written == 0
        assert _totals(store, run) == first
    finally:
        store.close()


class FailingFirst:
    """The real chdb store, unreachable for its first `failures` inserts (fault injection)."""

    def __init__(self, store: ChdbStore, failures: int):
        self._store, self.failures, self.refused = store, failures, 0
        self.description = store.description

    def query(self, sql: str) -> list:
        return self._store.query(sql)

    def command(self, sql: str) -> None:
        self._store.command(sql)

    def insert(self, table: str, rows: list) -> None:
        if self.refused < self.failures:
            self.refused += 1
            raise StoreError("Connection refused (injected outage)")
        self._store.insert(table, rows)

    def close(self) -> None:
        self._store.close()


@pytest.mark.faults
async def test_a_store_outage_loses_nothing(kafka_bootstrap, tmp_path):
    run = uuid.uuid4().hex[:8]
    topic = f"telemetry-{run}"
    await ensure_topics(kafka_bootstrap, [topic], partitions=2)
    await produce(kafka_bootstrap, topic, _events(run, 30))
    inner = ChdbStore(tmp_path / "ch")
    apply_migrations(inner)
    store = FailingFirst(inner, failures=3)
    try:
        config = _config(kafka_bootstrap, topic, group_id=f"g-{run}", retry_delay_s=0.05)
        await _drain(TelemetrySink(config, store), 60)
        assert store.refused == 3
        totals = _totals(store._store, run)
        assert (totals["requests"], totals["attempts"]) == (30, 30)
    finally:
        store.close()


async def test_a_stopped_sink_first_writes_what_is_already_published(kafka_bootstrap, tmp_path):
    run = uuid.uuid4().hex[:8]
    topic = f"telemetry-{run}"
    await ensure_topics(kafka_bootstrap, [topic], partitions=2)
    await produce(kafka_bootstrap, topic, _events(run, 40))
    store = ChdbStore(tmp_path / "ch")
    apply_migrations(store)
    try:
        sink = TelemetrySink(_config(kafka_bootstrap, topic, group_id=f"g-{run}"), store)
        task = asyncio.create_task(sink.run())
        sink.stop()  # before it has read anything
        await asyncio.wait_for(task, timeout=60)
        totals = _totals(store, run)
        assert (totals["requests"], totals["attempts"]) == (40, 40)
    finally:
        store.close()
