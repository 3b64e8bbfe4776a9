"""Read whole topics on every worker: a group-less consumer from the beginning, then follow.

Used for state every worker must see, on compacted topics: the breaker keeper's model health,
operators' commands, approval decisions. A consumer group would split the partitions between
workers; here each worker reads all of them.

Faust's GlobalTable is meant for this, but it has a record of not replicating to workers that do
not own the partition (faust-streaming issue #283), so the project does not rely on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from streams.kafka.admin import partitions_of

__all__ = ["IDLE_FETCH_WAIT_MS", "BroadcastReader"]

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes | None, bytes | None], None]

# The broker answers a fetch as soon as one record lands (fetch_min_bytes 1), so the wait bounds
# only how often an idle reader asks again. At 20 ms the two readers per worker and the reply
# client asked about 150 times a second, and a stack at 2 requests/s kept its broker at 32% of a
# core (a bare idle broker: 2%).
IDLE_FETCH_WAIT_MS = 500


class BroadcastReader:
    def __init__(self, bootstrap: str, topics: list[str], handle: Handler, *, fetch_max_wait_ms: int = IDLE_FETCH_WAIT_MS,
                 from_end: bool = False):
        self._bootstrap = bootstrap
        self._topics = topics
        self._handle = handle
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._from_end = from_end  # only what is published from now on (answers to this worker's questions)
        self.ready = asyncio.Event()  # set once everything on the topics at start has been applied
        self._stopping = asyncio.Event()
        self.records = 0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False,
                                    fetch_max_wait_ms=self._fetch_max_wait_ms, isolation_level="read_committed")
        await consumer.start()
        try:
            partitions = await partitions_of(self._bootstrap, self._topics)
            consumer.assign(partitions)
            if self._from_end:
                await consumer.seek_to_end(*partitions)
                for tp in partitions:
                    await consumer.position(tp)  # resolve the position now, before anything is asked
                ends = {}
            else:
                await consumer.seek_to_beginning(*partitions)
                ends = await consumer.end_offsets(partitions)
            behind = {tp for tp, end in ends.items() if end > 0}
            if not behind:
                self.ready.set()
            while not self._stopping.is_set():
                fetched = await consumer.getmany(timeout_ms=100)
                for tp, messages in fetched.items():
                    for message in messages:
                        self.records += 1
                        try:
                            self._handle(tp.topic, message.key, message.value)
                        except Exception:  # noqa: BLE001 - one bad record must not stop the state from following
                            log.exception("cannot apply a record from %s[%d]@%d", tp.topic, tp.partition, message.offset)
                if behind:
                    behind = {tp for tp in behind if await consumer.position(tp) < ends[tp]}
                    if not behind:
                        self.ready.set()
        finally:
            await consumer.stop()
