"""Sink throughput, rows per second, from a real broker into embedded chdb: a benchmark, not a test.

Produces N rows' worth of events first (N/2 requests with one attempt each, half of them as one
RequestServed record, as workers write them), then times the sink draining them (dedup check,
insert and offset commit included; the per-minute and per-day materialized views fire too).

    .venv/bin/python -m tests.benchmarks.sink_throughput [--rows 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from analytics import ChdbStore, SinkConfig, TelemetrySink, apply_migrations
from streams.config.settings import Settings
from streams.kafka.admin import ensure_topics
from streams.kafka.localkafka import LocalKafka, free_port
from tests.integration.test_sink import _events
from tests.support.kafka_io import produce


async def measure(bootstrap: str, rows: int, data: Path) -> None:
    run = uuid.uuid4().hex[:8]
    topic = f"bench-telemetry-{run}"
    await ensure_topics(bootstrap, [topic], partitions=4)
    events = _events(run, rows // 2)
    started = time.perf_counter()
    await produce(bootstrap, topic, events)
    print(f"produced {len(events)} records ({rows} rows) in {time.perf_counter() - started:.1f}s")
    store = ChdbStore(data / "ch")
    apply_migrations(store)
    sink = TelemetrySink(SinkConfig(bootstrap=bootstrap, topics=(topic,), group_id=f"bench-{run}"), store)
    task = asyncio.create_task(sink.run())
    started = time.perf_counter()
    while sink.rows_written < rows:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    sink.stop()
    await task
    stored = store.query(f"SELECT count() AS n FROM requests FINAL WHERE request_id LIKE '{run}-%'")[0]["n"]
    store.close()
    print(f"sink wrote {rows} rows in {elapsed:.2f}s: {rows / elapsed:,.0f} rows/s (stored: {stored})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            asyncio.run(measure(os.environ["KAFKA_BOOTSTRAP_SERVERS"], rows, Path(tmp)))
            return
        with LocalKafka(data_dir=Path(tmp) / "kafka", cache_dir=Settings().hugai_cache_dir, port=free_port()) as kafka:
            asyncio.run(measure(kafka.bootstrap, rows, Path(tmp)))


if __name__ == "__main__":
    main()
