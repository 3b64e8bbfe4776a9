"""Plain aiokafka helpers for tests: what any non-Python client would do on the wire."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.kafka.admin import partitions_of


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


async def committed_on_topics(bootstrap: str, prefix: str) -> list:
    """Every committed record on the topics whose names start with `prefix`, read to their current ends."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    messages: list = []
    try:
        partitions = await partitions_of(bootstrap, [t for t in sorted(await consumer.topics()) if t.startswith(prefix)])
        if not partitions:
            return messages
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # read_committed: the ends are the last stable offsets, so nothing committed before now is missed.
        ends = await consumer.end_offsets(partitions)
        behind = {tp for tp in partitions if ends[tp] > 0}
        while behind:
            for records in (await consumer.getmany(*behind, timeout_ms=500)).values():
                messages.extend(records)
            behind = {tp for tp in behind if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return messages
