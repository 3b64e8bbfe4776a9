"""A request's outputs go out exactly once, whatever crashes: the request agent's transactional outbox.

Under at-least-once, a request a dead worker had in flight is redelivered to the next owner of its
partition and answered again: two responses, and its spend counted twice. Faust's exactly_once
does not help with two workers or more: it names an output's transaction after the destination
partition number, so a worker that does not own that number cannot send there ("No transaction
producer found for: hugai-llm-0-0").

So, for each partition P of llm.requests, the worker that owns P publishes what a request produced
(its response, telemetry, budget settlements, dead letter) together with a marker "offset o of P
is answered" on partition P of llm.requests.answered, in one Kafka transaction:

- The transactional id is P's own. A worker that starts a producer with it fences the one before
  and the broker aborts that one's open transaction, so a dead or deposed owner commits nothing
  more.
- Before serving P, the new owner reads P's markers. An event already marked is acknowledged and
  not served again.
- Everyone reads read_committed (reply clients, the sink, the budget keeper), so an aborted
  transaction's response, rows and spend are never seen, and the keeper's spend is exactly the
  cost of the responses.

Requests of P that finish while P's previous transaction commits go together in the next one (a
group commit), so the transactions cost round trips per batch, not per request.

The group's offset on P is committed only up to the outbox's frontier: the first offset of P whose
answer is not committed. Faust's own choice (from its acknowledgements) was not safe: it skipped
offsets it counted as a gap, and an event given up when its partition moved was acknowledged all
the same. A frontier that stays stuck while later requests are answered is looked at (unstick()):
offsets that hold no request (transaction markers, aborted records) are stepped over, and a
request that was never served is read again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from streams.events.topic_names import MAX_REQUEST_BATCH_BYTES
from streams.kafka.answered_markers import AnsweredMarkers

__all__ = ["Output", "TransactionalOutbox"]

log = logging.getLogger(__name__)

Output = tuple[str, bytes | None, bytes]  # topic, key, value

# An abandoned transaction (its worker died) holds back every read_committed reader of the
# partitions it wrote to until it is aborted: by the next owner's producer, or at this timeout.
TRANSACTION_TIMEOUT_MS = 10_000
MAX_BATCH = 500
MARKERS_READ_TIMEOUT_S = 20.0
# A frontier that has not moved for this long while later requests were answered is looked at.
STUCK_S = 10.0
# The broker writes a transaction's commit markers after it has answered the commit. A transaction
# begun before they are written is refused (CONCURRENT_TRANSACTIONS) and aiokafka retries it after
# a fixed 20 ms: back to back, commits took 34.8 ms p50 here; 2 ms or more apart, 8-9 ms
# (`python -m tests.benchmarks.transaction_spacing`). Requests that finish meanwhile join the next one.
MARKERS_SETTLE_S = 0.003


@dataclass
class _Pending:
    offset: int
    outputs: list[Output]
    published: asyncio.Future[bool]


@dataclass
class _PartitionLog:
    partition: int
    frontier: int | None = None  # every offset before it is answered (or holds no request); None: not taken over
    answered: set[int] = field(default_factory=set)  # offsets past the frontier whose answers are committed
    claims: dict[int, asyncio.Future[bool]] = field(default_factory=dict)  # offsets being served here now
    queue: list[_Pending] = field(default_factory=list)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    starting: asyncio.Lock = field(default_factory=asyncio.Lock)
    producer: AIOKafkaProducer | None = None
    flusher: asyncio.Task | None = None
    revocations: int = 0  # how often the partition was taken from this worker
    taken_at: int = -1  # the value of `revocations` when it was last taken over: current when equal
    stuck: tuple[int, float] | None = None  # (frontier, since when) while it does not move
    committed_at: float = 0.0  # monotonic time the last transaction of this partition ended
    failing: tuple[float, str] | None = None  # (since when, what) while commits or the takeover fail

    def failed(self, exc: BaseException) -> None:
        self.failing = (self.failing[0] if self.failing else time.monotonic(), type(exc).__name__)

    def is_answered(self, offset: int) -> bool:
        return offset < (self.frontier or 0) or offset in self.answered

    def advance(self) -> None:
        while self.frontier in self.answered:
            self.answered.discard(self.frontier)
            self.frontier += 1


class TransactionalOutbox:
    def __init__(self, bootstrap: str, *, source_topic: str, marker_topic: str, group_id: str,
                 owns: Callable[[int], bool], same_partition: frozenset[str] = frozenset()):
        """`owns(p)`: whether this worker is assigned partition p of the source topic now.
        `same_partition`: topics whose records go to the source's partition number when they have
        it: a transaction then touches one of their partitions, not one per key, and its commit
        writes fewer markers."""
        self._bootstrap = bootstrap
        self._source = source_topic
        self._markers = marker_topic
        self._group_id = group_id
        self._owns = owns
        self._same_partition = same_partition
        self._partition_counts: dict[str, int] = {}
        self._answered = AnsweredMarkers(bootstrap, source_topic=source_topic, marker_topic=marker_topic, group_id=group_id)
        self._logs: dict[int, _PartitionLog] = {}

    def _log(self, partition: int) -> _PartitionLog:
        found = self._logs.get(partition)
        if found is None:
            found = self._logs[partition] = _PartitionLog(partition)
        return found

    async def prepare(self, partition: int) -> None:
        """Take over `partition` now (fence the last owner, read its markers) rather than on its first request."""
        await self._ready_while_ours(self._log(partition))

    def revoked(self, partition: int) -> None:
        """The partition was taken from this worker: what is known of it is read again if it comes back."""
        self._log(partition).revocations += 1

    def trouble(self, longer_than_s: float) -> list[str]:
        """Partitions of this worker whose answers have not been committed for `longer_than_s`: one
        line each, for /healthz. A commit retried through a leader's move takes a second or two."""
        now = time.monotonic()
        return [f"answers on partition {p} of {self._source} not committed for {now - log_.failing[0]:.0f} s "
                f"({log_.failing[1]})" for p, log_ in sorted(self._logs.items())
                if log_.failing and now - log_.failing[0] > longer_than_s and self._owns(p)]

    def committable(self, partition: int) -> int | None:
        """The offset the group may commit on `partition`: every request before it is answered."""
        log_ = self._logs.get(partition)
        if log_ is None or log_.producer is None or log_.taken_at != log_.revocations:
            return None
        return log_.frontier

    async def unstick(self, partition: int, seek: Callable[[int, int], Awaitable[None]]) -> None:
        """Look at a frontier that has not moved for STUCK_S while requests past it were answered.

        Called every few seconds for each partition this worker owns. Offsets that hold no request
        are stepped over; a request that is there but not being served is read again from it
        (`seek(partition, offset)`): requests after it that were answered are skipped by claim().
        """
        log_ = self._logs.get(partition)
        if log_ is None or self.committable(partition) is None:
            return
        frontier, now = log_.frontier, time.monotonic()
        if log_.stuck is None or log_.stuck[0] != frontier:
            log_.stuck = (frontier, now)
            return
        if now - log_.stuck[1] < STUCK_S or not log_.answered or frontier in log_.claims:
            return
        first = await asyncio.wait_for(self._answered.first_request_at(partition, frontier), MARKERS_READ_TIMEOUT_S)
        if first is None or log_.frontier != frontier:
            return
        log_.stuck = (frontier, now)
        if first > frontier:
            log.info("partition %d of %s: offsets %d to %d hold no request (transaction markers or aborted "
                     "records); the commit steps over them", partition, self._source, frontier, first - 1)
            log_.answered.update(range(frontier, first))
            log_.advance()
            return
        log.warning("partition %d of %s: the request at offset %d was not answered while %d later ones were; "
                    "reading the partition again from it", partition, self._source, frontier, len(log_.answered))
        await seek(partition, frontier)

    async def claim(self, partition: int, offset: int) -> bool:
        """True: serve this event, then publish() or release() it. False: it was answered already."""
        log_ = self._log(partition)
        while True:
            if not await self._ready_while_ours(log_):
                return False  # the partition moved on: its new owner serves the event
            if log_.is_answered(offset):
                return False
            serving = log_.claims.get(offset)
            if serving is None:
                log_.claims[offset] = asyncio.get_running_loop().create_future()
                return True
            # Redelivered while still being served here (a rebalance kept the partition on this
            # worker): wait for the first serving; serve again only if it was not published.
            if await asyncio.shield(serving):
                return False

    def release(self, partition: int, offset: int) -> None:
        """The claimed event was not served (the worker is stopping): someone may serve it later."""
        serving = self._log(partition).claims.pop(offset, None)
        if serving is not None and not serving.done():
            serving.set_result(False)

    async def publish(self, partition: int, offset: int, outputs: list[Output]) -> bool:
        """Publish a claimed event's outputs with its marker. True once committed; False when another
        worker owns the partition now (it serves the event again, and only its answer counts)."""
        log_ = self._log(partition)
        pending = _Pending(offset, outputs, asyncio.get_running_loop().create_future())
        log_.queue.append(pending)
        log_.wakeup.set()
        if log_.flusher is None or log_.flusher.done():
            log_.flusher = asyncio.create_task(self._flush_forever(log_), name=f"outbox-{partition}")
        try:
            published = await pending.published
        finally:
            serving = log_.claims.pop(offset, None)
            if serving is not None and not serving.done():
                serving.set_result(pending.published.done() and not pending.published.cancelled()
                                   and pending.published.result())
        return published

    async def close(self) -> None:
        for log_ in self._logs.values():
            if log_.flusher is not None:
                log_.flusher.cancel()
                await asyncio.gather(log_.flusher, return_exceptions=True)
            await self._drop_producer(log_, log_.producer)

    async def _flush_forever(self, log_: _PartitionLog) -> None:
        while True:
            await log_.wakeup.wait()
            log_.wakeup.clear()
            while log_.queue:
                settling = log_.committed_at + MARKERS_SETTLE_S - time.monotonic()
                if settling > 0:
                    await asyncio.sleep(settling)
                batch, log_.queue = log_.queue[:MAX_BATCH], log_.queue[MAX_BATCH:]
                try:
                    await self._commit(log_, batch)
                finally:
                    log_.committed_at = time.monotonic()

    async def _commit(self, log_: _PartitionLog, batch: list[_Pending]) -> None:
        """Commit `batch` in one transaction, retrying through broker outages while the partition is ours."""
        delay = 0.1
        while True:
            producer = None
            try:
                producer = await self._ready(log_)
                # After a takeover (ours) the markers were read again: another worker may have answered some.
                for pending in [p for p in batch if log_.is_answered(p.offset)]:
                    _resolve(pending, False)
                batch = [p for p in batch if not log_.is_answered(p.offset)]
                if not batch:
                    return
                async with producer.transaction():
                    deliveries = []
                    for pending in batch:
                        for topic, key, value in pending.outputs:
                            partition = await self._partition_for(producer, topic, log_.partition)
                            deliveries.append(await producer.send(topic, value, key=key, partition=partition))
                        deliveries.append(await producer.send(self._markers, b"", key=str(pending.offset).encode(),
                                                              partition=log_.partition))
                    await asyncio.gather(*deliveries)
                for pending in batch:
                    log_.answered.add(pending.offset)
                    _resolve(pending, True)
                log_.advance()
                log_.failing = None
                return
            except Exception as exc:  # noqa: BLE001 - fenced, broker away, timeouts: all start the partition over
                log_.failed(exc)
                await self._drop_producer(log_, producer)
                if not self._owns(log_.partition):
                    log.info("partition %d of %s moved to another worker during a commit (%s); it answers "
                             "the %d requests here again", log_.partition, self._source, type(exc).__name__,
                             len(batch))
                    for pending in batch:
                        _resolve(pending, False)
                    return
                log.warning("commit of %d answers on partition %d failed (%s: %s); retrying in %.1f s",
                            len(batch), log_.partition, type(exc).__name__, str(exc)[:200], delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _partition_for(self, producer: AIOKafkaProducer, topic: str, partition: int) -> int | None:
        if topic not in self._same_partition:
            return None
        if topic not in self._partition_counts:
            self._partition_counts[topic] = len(await producer.partitions_for(topic))
        return partition if partition < self._partition_counts[topic] else None

    async def _ready_while_ours(self, log_: _PartitionLog) -> bool:
        """_ready(), retried through broker outages; False once the partition is not this worker's."""
        delay = 0.1
        while True:
            try:
                await self._ready(log_)
                return True
            except Exception as exc:  # noqa: BLE001 - broker away or timeouts: retry while the partition is ours
                if not self._owns(log_.partition):
                    log_.failing = None
                    return False
                log_.failed(exc)
                log.warning("taking over partition %d of %s failed (%s); retrying in %.1f s", log_.partition,
                            self._source, type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _ready(self, log_: _PartitionLog) -> AIOKafkaProducer:
        """This partition's producer. Taken over (again, after a revocation): a new producer first fences
        the previous owner, then the group's commit and the markers past it are read."""
        if log_.producer is not None and log_.taken_at == log_.revocations:
            return log_.producer
        async with log_.starting:
            if log_.producer is not None and log_.taken_at == log_.revocations:
                return log_.producer
            revocations = log_.revocations  # a revocation during the takeover calls for another
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap, transactional_id=f"{self._group_id}-answers-{log_.partition}",
                enable_idempotence=True, acks="all", linger_ms=0, request_timeout_ms=30_000,
                transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
                # A request moved to its home partition is published again whole, images and all.
                max_request_size=MAX_REQUEST_BATCH_BYTES,
            )
            started = time.perf_counter()
            log.info("taking over partition %d of %s", log_.partition, self._source)
            try:
                await producer.start()  # InitProducerId: fences the last producer and aborts its transaction
                fenced = time.perf_counter()
                # Bounded: a read that hangs (seen once in a suite run: 3 of 4 partitions never
                # finished taking over) is retried with a new producer and reader.
                floor, answered = await asyncio.wait_for(self._answered.read(log_.partition), MARKERS_READ_TIMEOUT_S)
                log.info("took over partition %d of %s: fenced in %.0f ms, markers read in %.0f ms",
                         log_.partition, self._source, (fenced - started) * 1000,
                         (time.perf_counter() - fenced) * 1000)
            except BaseException:
                await producer.stop()
                raise
            # What this worker committed itself still holds: the markers read may predate it.
            log_.answered = {offset for offset in log_.answered | answered if offset >= floor}
            log_.frontier = floor
            log_.advance()
            old, log_.producer, log_.taken_at = log_.producer, producer, revocations
            await self._drop_producer(log_, old)  # fenced by now; a commit using it fails and is retried
        return log_.producer

    async def _drop_producer(self, log_: _PartitionLog, producer: AIOKafkaProducer | None) -> None:
        if producer is None:
            return
        if log_.producer is producer:
            log_.producer = None
        try:
            await producer.stop()
        except Exception as exc:  # noqa: BLE001 - a fenced producer may fail to stop cleanly; it is gone either way
            log.debug("stopping the producer of partition %d: %s", log_.partition, type(exc).__name__)

def _resolve(pending: _Pending, published: bool) -> None:
    if not pending.published.done():
        pending.published.set_result(published)
