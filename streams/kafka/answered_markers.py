"""Reading what partition P of llm.requests.answered says: which requests of P are answered already.

A worker taking P over reads the group's committed offset of P and the markers written at or
after the first request past it, so an event answered by the last owner is not served again
(streams/kafka/outbox.py).
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.kafka.state_io import read_once_consumer

__all__ = ["AnsweredMarkers"]

log = logging.getLogger(__name__)

# Markers are read from this long before the first unacknowledged request was appended: the
# request and marker topics use the broker's append time, and this covers clocks of other brokers.
CLOCK_SLACK_MS = 120_000


class AnsweredMarkers:
    def __init__(self, bootstrap: str, *, source_topic: str, marker_topic: str, group_id: str):
        self._bootstrap = bootstrap
        self._source = source_topic
        self._markers = marker_topic
        self._group_id = group_id

    async def read(self, partition: int) -> tuple[int, set[int]]:
        """The group's committed offset of `partition`, and the offsets answered at or after it: the ones
        that can come again."""
        source = TopicPartition(self._source, partition)
        markers = TopicPartition(self._markers, partition)
        committed = await self._group_committed(source)
        consumer = self._reader()
        await consumer.start()
        try:
            consumer.assign([source, markers])
            first, _ = await _first_record(consumer, source, committed)
            if first is None:
                return committed, set()  # nothing at or past the commit: nothing can be redelivered
            found = await consumer.offsets_for_times({markers: max(0, first.timestamp - CLOCK_SLACK_MS)})
            if found.get(markers) is None:
                return committed, set()
            end = (await consumer.end_offsets([markers]))[markers]  # read_committed: the last stable offset
            consumer.seek(markers, found[markers].offset)
            answered: set[int] = set()
            while await consumer.position(markers) < end:
                batches = await consumer.getmany(markers, timeout_ms=1000)
                answered.update(int(r.key) for r in batches.get(markers, ()) if int(r.key) >= committed)
            log.info("partition %d of %s: %d requests past the committed offset %d were answered already",
                     partition, self._source, len(answered), committed)
            return committed, answered
        finally:
            await consumer.stop()

    async def _group_committed(self, source: TopicPartition) -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            found = await admin.list_consumer_group_offsets(self._group_id, partitions=[source])
        finally:
            await admin.close()
        offset = found[source].offset if source in found else -1
        return max(offset, 0)

    async def first_request_at(self, partition: int, offset: int) -> int | None:
        """The offset of the first request at or after `offset`; the end if there is none before it
        (only markers or aborted records); None if `offset` is at the end."""
        source = TopicPartition(self._source, partition)
        consumer = self._reader()
        await consumer.start()
        try:
            consumer.assign([source])
            record, end = await _first_record(consumer, source, offset)
        finally:
            await consumer.stop()
        if record is not None:
            return record.offset
        return end if offset < end else None

    def _reader(self) -> AIOKafkaConsumer:
        # No group_id: it only reads. With the group's id it coordinated with the group being
        # rebalanced, and takeovers were seen to hang in it.
        return read_once_consumer(self._bootstrap,
                                  auto_offset_reset="earliest")  # an offset before the log's start: read from it


async def _first_record(consumer: AIOKafkaConsumer, source: TopicPartition,
                        offset: int) -> tuple[ConsumerRecord | None, int]:
    """The first committed record at or after `offset` (None if there is none yet), and the end."""
    end = (await consumer.end_offsets([source]))[source]  # read_committed: the last stable offset
    if offset < end:
        consumer.seek(source, offset)
        while await consumer.position(source) < end:  # past markers and aborted records too
            batches = await consumer.getmany(source, timeout_ms=1000, max_records=1)
            for record in batches.get(source, ()):
                return record, end
    return None, end
