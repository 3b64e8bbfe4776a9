"""The transactional outbox on the real broker: a takeover fences the last owner, and what it
committed is never answered again (streams/outbox.py)."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.kafka_admin import ensure_topics
from streams.outbox import TransactionalOutbox
from streams.topics import APPEND_TIME
from tests.support.kafka_io import consume_until

pytestmark = pytest.mark.kafka


class Ownership:
    """Which outbox owns partition 0, as the consumer group would say."""

    def __init__(self) -> None:
        self.owner = "a"

    def of(self, name: str):  # noqa: ANN201
        return lambda partition: self.owner == name


async def answers(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    """The committed answers on `topic` once `expected` are there, plus any stragglers."""
    records = await consume_until(bootstrap, topic, lambda seen: len(seen) > expected, timeout=4)
    return [r.value for r in records]


@pytest.fixture
async def topics(kafka_bootstrap: str) -> dict[str, str]:
    run = uuid.uuid4().hex[:8]
    names = {"source": f"outbox-src-{run}", "markers": f"outbox-marks-{run}", "out": f"outbox-out-{run}",
             "group": f"outbox-group-{run}"}
    await ensure_topics(kafka_bootstrap, [names["source"], names["markers"]], partitions=1, configs=APPEND_TIME)
    await ensure_topics(kafka_bootstrap, [names["out"]], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(6):
            await producer.send_and_wait(names["source"], f"request {i}".encode(), partition=0)
    finally:
        await producer.stop()
    return names


def outbox(bootstrap: str, names: dict[str, str], owns) -> TransactionalOutbox:  # noqa: ANN001
    return TransactionalOutbox(bootstrap, source_topic=names["source"], marker_topic=names["markers"],
                               group_id=names["group"], owns=owns, committed=lambda partition: None)


async def serve(box: TransactionalOutbox, names: dict[str, str], offset: int, who: str) -> bool | None:
    """None when the outbox says the event was answered already; else whether the answer was committed."""
    if not await box.claim(0, offset):
        return None
    return await box.publish(0, offset, [(names["out"], None, f"{offset} by {who}".encode())])


async def test_a_takeover_fences_the_last_owner_and_skips_what_it_answered(kafka_bootstrap, topics):
    owner = Ownership()
    a, b = outbox(kafka_bootstrap, topics, owner.of("a")), outbox(kafka_bootstrap, topics, owner.of("b"))
    try:
        assert [await serve(a, topics, offset, "a") for offset in (0, 1, 2)] == [True, True, True]
        assert await a.claim(0, 3)  # a is serving offset 3 when the partition moves

        owner.owner = "b"
        await b.prepare(0)  # fences a
        assert await serve(b, topics, 1, "b") is None, "answered by a before the takeover"
        assert await serve(b, topics, 3, "b") is True
        assert await a.publish(0, 3, [(topics["out"], None, b"3 by a")]) is False, "a was fenced"

        assert await answers(kafka_bootstrap, topics["out"], 4) == [b"0 by a", b"1 by a", b"2 by a", b"3 by b"]
    finally:
        await a.close()
        await b.close()


async def test_a_fenced_owner_that_still_owns_the_partition_takes_it_back_without_answering_twice(
        kafka_bootstrap, topics):
    # During a rebalance two workers can both believe they own a partition for a moment.
    a, b = outbox(kafka_bootstrap, topics, lambda p: True), outbox(kafka_bootstrap, topics, lambda p: True)
    try:
        assert await serve(a, topics, 0, "a") is True
        assert await a.claim(0, 4) and await a.claim(0, 5)
        assert await serve(b, topics, 4, "b") is True  # b's producer fenced a's
        # a's commit fails, so it fences b in turn, reads the markers again, and keeps only offset 5.
        assert await a.publish(0, 4, [(topics["out"], None, b"4 by a")]) is False
        assert await a.publish(0, 5, [(topics["out"], None, b"5 by a")]) is True

        assert await answers(kafka_bootstrap, topics["out"], 3) == [b"0 by a", b"4 by b", b"5 by a"]
    finally:
        await a.close()
        await b.close()


async def test_a_new_owner_skips_what_was_answered_past_the_groups_commit(kafka_bootstrap, topics):
    a = outbox(kafka_bootstrap, topics, lambda p: True)
    try:
        for offset in (0, 1, 2):
            assert await serve(a, topics, offset, "a") is True
    finally:
        await a.close()
    # The group committed up to offset 2: 0 and 1 are never redelivered, 2 may be.
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=topics["group"], enable_auto_commit=False)
    await consumer.start()
    try:
        source = TopicPartition(topics["source"], 0)
        consumer.assign([source])
        await consumer.commit({source: 2})
    finally:
        await consumer.stop()
    b = outbox(kafka_bootstrap, topics, lambda p: True)
    try:
        assert await serve(b, topics, 2, "b") is None
        assert await serve(b, topics, 3, "b") is True
        assert not b._log(0).answered & {0, 1}, "offsets before the commit are not remembered"
    finally:
        await b.close()
