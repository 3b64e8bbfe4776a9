"""One-shot reads and writes of whole topics or partitions: the state topics for the operator commands,
the shared answers of a partition for the worker that takes it over."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.kafka.admin import partitions_of

__all__ = ["publish", "read_all", "read_once_consumer", "read_partition"]

# How long a one-shot reader's fetch may wait at the broker for records that are not there. A fetch
# holds its connection, and the broker answers one connection's requests in order, so an
# end_offsets() asked while a fetch waits is answered only when the wait ends. With the default
# 500 ms, taking over an empty partition cost 0.8 s, and the first requests on it waited for that.
READ_ONCE_FETCH_WAIT_MS = 10


def read_once_consumer(bootstrap: str, **options: object) -> AIOKafkaConsumer:
    """A consumer without a group for reading assigned partitions up to their end, committed records only."""
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed",
                            fetch_max_wait_ms=READ_ONCE_FETCH_WAIT_MS, **options)


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
    consumer = read_once_consumer(bootstrap)
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
