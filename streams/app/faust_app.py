"""Builds the Faust App. Nothing else: topics, tables and agents are declared elsewhere."""

from __future__ import annotations

from collections.abc import Callable

import faust
from faust.transport.drivers import aiokafka as faust_kafka
from faust.types import TP

from streams.config.settings import Settings
from streams.events.topic_names import FAUST_APP_ID, MAX_HTTP_BODY_BYTES, REQUESTS
from streams.kafka.replication import Replication

__all__ = ["APP_ID", "create_app"]

APP_ID = FAUST_APP_ID
FETCH_BATCH_BYTES = 32 * 1024


class _CommittedReadsThread(faust_kafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: faust_kafka.Transport):  # noqa: ANN202 - Faust's signature
        consumer = super()._create_worker_consumer(transport)
        # Faust reads read_committed only under its own exactly_once. The budget keeper must not
        # count a settlement whose transaction was aborted (streams/kafka/outbox.py), so always. Set
        # before start(), which hands it to the fetcher; aiokafka is pinned in uv.lock.
        consumer._isolation_level = "read_committed"
        # Faust answers every fetch at once (fetch_min_bytes 1): under load every record that lands
        # costs the broker and the worker a fetch of every partition the worker reads. Letting the
        # broker gather records for a few ms tripled saturated throughput (README, Benchmarks).
        batch_ms = transport.app.fetch_batch_ms
        if batch_ms:
            consumer._fetch_min_bytes = FETCH_BATCH_BYTES
            consumer._fetch_max_wait_ms = batch_ms
        return consumer


class _Consumer(faust_kafka.Consumer):
    def _new_consumer_thread(self) -> faust_kafka.AIOKafkaConsumerThread:
        return _CommittedReadsThread(self, loop=self.loop, beacon=self.beacon)

    def _new_offset(self, tp: TP) -> int | None:
        """For llm.requests, the request agent's outbox decides what is committed, not acknowledgements.

        Faust commits past what its stream acknowledged, and counts a jump in offsets as acknowledged
        (a gap). A request acknowledged without an answer (given up when its partition moved) or
        never delivered (one fresh-clone run of tests/e2e/test_crash.py: 33 consecutive requests,
        not answered and not redelivered) was then lost. The outbox's frontier is the first offset
        whose answer is not committed (streams/kafka/outbox.py).
        """
        if tp.topic != REQUESTS:
            self._gap[tp].merge_overlaps()  # once a commit, not once a gap (_add_gap)
            return super()._new_offset(tp)
        self._acked[tp].clear()  # only their presence matters to Faust: it asks about partitions with acks
        self._acked_index[tp].clear()
        self._gap.pop(tp, None)
        committable = self.app.committable_requests
        return committable(tp.partition) if committable is not None else None

    async def perform_seek(self) -> None:
        """Faust's, with the flow stopped first, so no record fetched during the seek is thrown away.

        After a rebalance, Faust's recovery resumes the stream partitions, then seeks them to the
        committed offsets (a round trip to the group coordinator), then resumes the app's flow
        control, which empties every agent's queue. With the flow still running from table recovery,
        a record fetched after the seek moved the position but before the queues were emptied was
        dropped, and its position was past it: never served. Seen as requests published right after
        a worker came up (its /healthz turns ready before that seek) going unanswered for good.
        Every caller resumes the flow after the seek (faust/tables/recovery.py), and a fetch that
        returns while it is stopped seeks back to the committed offsets (Consumer.getmany).
        """
        self.stop_flow()
        await super().perform_seek()

    async def seek_to_committed(self) -> dict[TP, int]:
        """Committed offsets, except where a keeper's own state says it applied less.

        The budget keeper's ledger records the last offset it applied, in its changelog. Faust
        commits the input's offset after flushing its producer buffer, but that flush gives up
        when a message takes over 0.1 s to hand on, so under load a commit can pass a settlement
        whose ledger write had not left the worker. A kill -9 then lost it: the next keeper read
        a ledger without it and resumed from the commit (tests/e2e/test_keeper_resume.py). Called
        after table recovery, so the ledger read here is the recovered one.

        A partition committed at 0, or not at all, is sent back to its beginning: aiokafka seeks
        only past 0 and leaves the others where its fetcher is, so records fetched and then thrown
        away (perform_seek) were skipped for good on a group's first run.
        """
        positions = dict(await super().seek_to_committed())
        from_start = [tp for tp, committed in positions.items()
                      if (committed is None or committed <= 0) and not self._is_changelog_tp(tp)]
        if from_start:
            await self._thread.seek_to_beginning(*from_start)
        for tp, committed in positions.items():
            applied_until = self.app.resume_from.get(tp.topic)
            wanted = applied_until(tp.partition) if applied_until is not None else None
            if wanted is not None and committed is not None and wanted < committed:
                self.log.warning("%s[%d]: resuming at %d, where the ledger ends, not at the committed %d",
                                 tp.topic, tp.partition, wanted, committed)
                await self._seek(tp, wanted)
                positions[tp] = wanted
        return positions

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Faust's, without merging the whole interval tree after each gap.

        Every record of a transactional topic (llm.budget-settlements, written by the outbox) is
        followed by a commit marker, so each one is a gap. Faust merged the tree after adding each:
        3.7% of the worker's CPU at 50 requests/s (py-spy --gil), growing with the gaps since the
        last commit. _new_offset merges once before it reads the tree. llm.requests is committed
        from the outbox's frontier, so its gaps are not kept at all.
        """
        if tp.topic == REQUESTS:
            return
        committed = self._committed_offset[tp]
        if committed is not None:
            offset_from = max(offset_from, committed + 1)
        if offset_from <= offset_to:
            self._gap[tp].addi(offset_from, offset_to + 1)  # intervaltree intervals exclude the end


class _Transport(faust_kafka.Transport):
    Consumer = _Consumer

    def _topic_config(self, retention: int | None = None, compacting: bool | None = None,
                      deleting: bool | None = None) -> dict:
        """Faust's own topics (table changelogs, the assignor's) get the min.insync.replicas ours
        get: Faust sets only their copies (topic_replication_factor), and the broker default is 1."""
        config = dict(super()._topic_config(retention, compacting, deleting))
        config.setdefault("min.insync.replicas", str(self.app.replication.min_insync))
        return config


class _App(faust.App):
    # Set by the worker that serves llm.requests: partition -> the offset its group may commit.
    committable_requests: Callable[[int], int | None] | None = None
    # Set by keepers whose state records what it applied: topic -> (partition -> the next offset
    # to read, or None to take the committed one). See _Consumer.seek_to_committed.
    resume_from: dict[str, Callable[[int], int | None]]
    fetch_batch_ms = 0  # HUGAI_FETCH_BATCH_MS, set by create_app
    replication = Replication(factor=1, min_insync=1)  # set by create_app

    def _new_transport(self) -> _Transport:
        return _Transport(self.conf.broker_consumer, self)


def create_app(settings: Settings, bootstrap: str, replication: Replication = Replication(1, 1)) -> faust.App:
    """`replication`: what Faust's own topics get (streams/kafka/replication.py), as the project's do."""
    # Faust hard-codes fetch_max_wait_ms=1500. Alone it matters little: with fetch_min_bytes 1 the
    # broker answers as soon as any record lands (5 ms instead left the budget round trip at 7-8 ms
    # p50). What matters is how many records a fetch gathers: _CommittedReadsThread, fetch_batch_ms.
    app = _App(
        APP_ID,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        autodiscover=False,
        processing_guarantee=settings.hugai_processing_guarantee,
        topic_partitions=settings.hugai_partitions,
        topic_replication_factor=replication.factor,
        broker_session_timeout=settings.hugai_session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.hugai_session_timeout_s / 5),
        consumer_auto_offset_reset="earliest",
        # Faust waits for every event in flight before it lets a rebalance go on. Requests in flight
        # may be waiting for a keeper (budget, cache) on the partition being moved: with the wait,
        # a dead worker's keepers could never be reassigned (seen: a survivor stuck in wait_empty for
        # a minute after a kill -9). Without it, an unfinished event is redelivered to its new owner.
        stream_wait_empty=False,
        # One consumer feeds every agent, and a keeper's event waits behind the requests fetched
        # with it. Smaller fetches let keeper answers through sooner under a backlog: `hugai-llm
        # bench --saturate --duration 10` gave 41 requests/s unbounded, 82 at 50, 61 at 10.
        broker_max_poll_records=50,
        # Faust's default is 1200 s: a send stuck on metadata would hold a request for 20 minutes.
        producer_request_timeout=30.0,
        # Image-bearing chat requests: 8 MiB bodies (aiohttp's default is 1 MiB).
        web_application_options={"client_max_size": MAX_HTTP_BODY_BYTES},
        web_bind=settings.hugai_http_host,
        web_port=settings.hugai_http_port,
        web_host=settings.hugai_http_host,
        # One directory per worker: several may run from the same data directory.
        datadir=str(settings.hugai_data_dir / f"faust-{settings.hugai_http_port}"),
    )
    app.fetch_batch_ms = settings.hugai_fetch_batch_ms
    app.replication = replication
    app.resume_from = {}
    return app
