"""One-shot reads and writes of whole topics or partitions: the state topics for the operator commands,
the shared answers of a partition for the worker that takes it over."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.kafka.admin import partitions_of

__all__ = ["publish", "read_all", "read_partition"]


async def publish(bootstrap: str, topic: str, key: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10_000, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every record on `topic` now, oldest first."""
    return await _read_whole(bootstrap, await partitions_of(bootstrap, [topic]))


async def read_partition(bootstrap: str, topics: tuple[str, ...], partition: int) -> list[tuple[bytes | None, bytes | None]]:
    """Every record now on partition `partition` of each of `topics`, each partition's oldest first."""
    return await _read_whole(bootstrap, [TopicPartition(topic, partition) for topic in topics])


async def _read_whole(bootstrap: str, partitions: list[TopicPartition]) -> list[tuple[bytes | None, bytes | None]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[tuple[bytes | None, bytes | None]] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                records.extend((m.key, m.value) for m in messages)
        return records
    finally:
        await consumer.stop()
