"""The transactional outbox on the real broker: a takeover fences the last owner, and what it
committed is never answered again (streams/kafka/outbox.py)."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

import streams.kafka.outbox as outbox_module
from streams.kafka.admin import ensure_topics
from streams.kafka.outbox import TransactionalOutbox
from streams.kafka.topics import APPEND_TIME
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
                               group_id=names["group"], owns=owns)


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
        assert b.committable(0) == 4
    finally:
        await b.close()


async def test_the_group_may_commit_only_up_to_the_first_request_not_answered(kafka_bootstrap, topics):
    box = outbox(kafka_bootstrap, topics, lambda p: True)
    try:
        assert box.committable(0) is None, "not taken over yet"
        for offset in (0, 1, 3):
            assert await serve(box, topics, offset, "a") is True
        assert box.committable(0) == 2
        assert await box.claim(0, 2)
        assert box.committable(0) == 2, "claimed is not answered"
        assert await box.publish(0, 2, [(topics["out"], None, b"2 by a")]) is True
        assert box.committable(0) == 4

        box.revoked(0)
        assert box.committable(0) is None, "what it knows is read again first"
        await box.prepare(0)
        assert box.committable(0) == 4, "from the markers: the group has committed nothing"
    finally:
        await box.close()


class Seeks:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    async def __call__(self, partition: int, offset: int) -> None:
        self.calls.append((partition, offset))


async def test_a_request_left_behind_is_read_again(kafka_bootstrap, topics, monkeypatch):
    monkeypatch.setattr(outbox_module, "STUCK_S", 0.0)
    box, seeks = outbox(kafka_bootstrap, topics, lambda p: True), Seeks()
    try:
        for offset in (0, 1, 3, 4):
            assert await serve(box, topics, offset, "a") is True
        await box.unstick(0, seeks)  # notes when the frontier stopped
        assert seeks.calls == []
        assert await box.claim(0, 2)
        await box.unstick(0, seeks)
        assert seeks.calls == [], "offset 2 is being served"
        box.release(0, 2)
        await box.unstick(0, seeks)
        assert seeks.calls == [(0, 2)]
        assert box.committable(0) == 2
    finally:
        await box.close()


async def test_offsets_without_requests_are_stepped_over(kafka_bootstrap, topics, monkeypatch):
    monkeypatch.setattr(outbox_module, "STUCK_S", 0.0)
    # Offsets 6 (committed) and 7 (its commit marker), 8 (aborted) and 9 (its marker), then 10.
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"{topics['group']}-client")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topics["source"], b"request 6", partition=0)
        await producer.begin_transaction()
        await producer.send_and_wait(topics["source"], b"aborted", partition=0)
        await producer.abort_transaction()
    finally:
        await producer.stop()
    plain = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await plain.start()
    try:
        assert (await plain.send_and_wait(topics["source"], b"request 10", partition=0)).offset == 10
    finally:
        await plain.stop()

    box, seeks = outbox(kafka_bootstrap, topics, lambda p: True), Seeks()
    try:
        for offset in (0, 1, 2, 3, 4, 5, 6, 10):
            assert await serve(box, topics, offset, "a") is True
        assert box.committable(0) == 7
        await box.unstick(0, seeks)
        await box.unstick(0, seeks)
        assert box.committable(0) == 11
        assert seeks.calls == []
    finally:
        await box.close()
