"""Plain aiokafka helpers for tests: what any non-Python client would do on the wire."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def consume_until(bootstrap: str, topic: str, done, *, timeout: float = 60.0) -> list:  # noqa: ANN001
    """Read `topic` from the start until done(messages) is true or the timeout passes."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=100, isolation_level="read_committed")
    await consumer.start()
    messages: list = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not done(messages) and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=250)
            for records in batch.values():
                messages.extend(records)
    finally:
        await consumer.stop()
    return messages
