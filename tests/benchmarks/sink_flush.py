"""What one sink write costs embedded chdb, by size: a benchmark, not a test.

The sink writes a batch every HUGAI_SINK_FLUSH_S. This times its write step alone (the dedup reads
and the inserts, materialized views included) for a batch of 1 and of 50 requests, and one insert
per table, as CPU time of this process (chdb's threads included) and wall time. No broker.

    .venv/bin/python -m tests.benchmarks.sink_flush
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from analytics import ChdbStore, SinkConfig, TelemetrySink, apply_migrations
from tests.integration.test_sink import _events

REPEATS = 20


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def _timed(name: str, step: Callable[[], object]) -> None:
    cpu, wall = _cpu_s(), time.perf_counter()
    for _ in range(REPEATS):
        step()
    print(f"{name}: {(_cpu_s() - cpu) / REPEATS * 1000:.1f} ms CPU, "
          f"{(time.perf_counter() - wall) / REPEATS * 1000:.1f} ms wall")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = ChdbStore(Path(tmp) / "ch")
        apply_migrations(store)
        sink = TelemetrySink(SinkConfig(bootstrap="unused", topics=("unused",)), store)

        def batch(requests: int) -> dict[str, list[dict]]:
            rows: dict[str, list[dict]] = {}
            for _, value in _events(uuid.uuid4().hex[:8], requests):
                for table, row in sink._decode(value, None, 0):
                    rows.setdefault(table, []).append(row)
            return rows

        _timed("a query (SELECT 1)", lambda: store.query("SELECT 1"))
        for requests in (1, 50):
            _timed(f"a write of {requests} request(s), dedup reads included", lambda: sink._insert(batch(requests)))
        for table in batch(1):
            _timed(f"an insert of 1 row into {table}", lambda: store.insert(table, batch(1)[table]))
        store.close()


if __name__ == "__main__":
    main()
