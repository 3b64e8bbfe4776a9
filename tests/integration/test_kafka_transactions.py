"""Kafka 4.x removed old protocol versions (KIP-896). aiokafka's transactions must still work on it:
the budgets need Faust's exactly_once, which runs on aiokafka's transactional producer."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.kafka.admin import ensure_topics

pytestmark = pytest.mark.kafka


async def test_committed_transactions_are_visible_and_aborted_ones_are_not(kafka_bootstrap):
    topic = f"txn-check-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"txn-{topic}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, b"committed")
        await producer.begin_transaction()
        await producer.send(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, b"after-abort")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                                isolation_level="read_committed", enable_auto_commit=False)
    await consumer.start()
    values: list[bytes] = []
    try:
        for _ in range(40):
            batch = await consumer.getmany(timeout_ms=250)
            values += [m.value for records in batch.values() for m in records]
            if len(values) >= 2:
                break
    finally:
        await consumer.stop()
    assert values == [b"committed", b"after-abort"]
