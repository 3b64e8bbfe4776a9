"""Requests published while a worker comes up are all answered, each on its first delivery."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from streams.client.reply_client import ReplyClient
from streams.events import LLMRequest
from tests.conftest import make_stack
from tests.support.kafka_io import consume_until

pytestmark = pytest.mark.kafka

SPACING_S = 0.01
# What the outbox logs when it finds a request that was fetched but never served (streams/kafka/outbox.py).
READ_AGAIN = "reading the partition again"


class _SteadyPublisher(threading.Thread):
    """Publishes a request every SPACING_S, spread over every partition, until stopped."""

    def __init__(self, bootstrap: str, run: str):
        super().__init__(daemon=True)
        self.bootstrap, self.prefix, self.sent = bootstrap, f"up-{run}-", []
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:  # noqa: D102 - Thread's
        try:
            asyncio.run(self._publish())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    async def _publish(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=0)
        await producer.start()
        try:
            while not self.stopping.is_set():
                request_id = f"{self.prefix}{len(self.sent)}"
                body = {"request_id": request_id, "task_type": "code_generation", "prompt": f"start {len(self.sent)}"}
                await producer.send_and_wait("llm.requests", json.dumps(body).encode(), key=request_id.encode())
                self.sent.append(request_id)
                await asyncio.sleep(SPACING_S)
        finally:
            await producer.stop()


async def _answered_once(bootstrap: str) -> None:
    async with ReplyClient(bootstrap) as client:
        await client.call([LLMRequest(request_id=f"first-{uuid.uuid4().hex[:8]}-{i}", task_type="code_generation",
                                      prompt=f"first run {i}") for i in range(8)])


def test_requests_published_while_the_worker_starts_are_answered_without_being_read_again(kafka_bootstrap, tmp_path):
    # Two ways a request fetched during the start was dropped, its offset passed (streams/app/faust_app.py):
    # Faust emptied the agents' queues after seeking the streams while the flow still ran, and the seek
    # left a partition committed at 0 (or not at all) where the fetcher had got to. Publishing all
    # through the start puts requests in those windows on every run: 3 of 3 runs failed without the
    # fixes, 1 of 4 with the first alone, 1 of 3 with the second alone.
    dev, patch = make_stack(tmp_path, kafka_bootstrap)
    publisher = _SteadyPublisher(kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        # A first run leaves what a restart finds on a broker in use: committed offsets, and
        # changelogs for the tables to restore before the streams are resumed.
        dev.start()
        asyncio.run(_answered_once(kafka_bootstrap))
        dev.stop()
        publisher.start()
        dev.start()
        time.sleep(1.0)  # and a little after /healthz turns ready
        publisher.stopping.set()
        publisher.join(timeout=30)
        assert publisher.error is None, publisher.error
        sent = set(publisher.sent)
        assert len(sent) > 50, len(sent)

        prefix = publisher.prefix
        answered = lambda ms: {m.key.decode() for m in ms if m.key and m.key.decode().startswith(prefix)}  # noqa: E731
        messages = asyncio.run(consume_until(kafka_bootstrap, "llm.responses", lambda ms: answered(ms) >= sent,
                                             timeout=90))
        missing = sent - answered(messages)
        assert not missing, f"{len(missing)} of {len(sent)} unanswered, e.g. {sorted(missing)[:5]}"
        log = (dev.log_dir / "worker.log").read_text(errors="replace")
        # Without the fix they were answered too, most of them, but only once the outbox found the
        # frontier stuck (STUCK_S) and read the partition again; one with nothing after it never was.
        assert READ_AGAIN not in log, [line for line in log.splitlines() if READ_AGAIN in line]
    finally:
        publisher.stopping.set()
        dev.stop()
        patch.undo()
