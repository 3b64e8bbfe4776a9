"""How long a Kafka transaction takes to commit, by the pause since the previous one: a benchmark, not a test.

The outbox (streams/kafka/outbox.py) commits each partition's answers in transactions, one after the
other. The broker writes a transaction's markers after answering its commit, and a transaction
begun before they are written is refused and retried by aiokafka 20 ms later. This measures the
commit time (begin, one record, commit) with pauses of 0 to 6 ms between transactions.

    .venv/bin/python -m tests.benchmarks.transaction_spacing [--count 150]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from streams.config.settings import Settings
from streams.kafka.admin import ensure_topics
from streams.kafka.localkafka import LocalKafka, free_port

PAUSES_MS = (0, 1, 2, 3, 4, 6)


async def commit_times(bootstrap: str, pause_s: float, count: int) -> list[float]:
    topic = f"bench-txn-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"{topic}-tx", enable_idempotence=True,
                                acks="all", linger_ms=0)
    await producer.start()
    took = []
    try:
        for i in range(count):
            started = time.perf_counter()
            async with producer.transaction():
                await producer.send_and_wait(topic, str(i).encode())
            took.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(pause_s)
    finally:
        await producer.stop()
    return took


async def measure(bootstrap: str, count: int) -> None:
    await commit_times(bootstrap, 0.05, 30)  # the broker's JIT warms up on these
    for pause_ms in PAUSES_MS:
        took = sorted(await commit_times(bootstrap, pause_ms / 1000, count))
        print(f"pause {pause_ms} ms: commit p50 {statistics.median(took):5.1f} ms, "
              f"p95 {took[int(0.95 * (len(took) - 1))]:5.1f} ms ({count} transactions)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=150)
    count = parser.parse_args().count
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        asyncio.run(measure(bootstrap, count))
        return
    with tempfile.TemporaryDirectory() as tmp, \
            LocalKafka(data_dir=Path(tmp), cache_dir=Settings().hugai_cache_dir, port=free_port()) as broker:
        asyncio.run(measure(broker.bootstrap, count))


if __name__ == "__main__":
    main()
