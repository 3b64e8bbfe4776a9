"""The worker under processing_guarantee=exactly_once answers through a read_committed reader.

It gets a broker of its own: Faust's table recovery in a later at_least_once stack with the same
app id crashed here on the transactional changelogs this one leaves ("Offset must be a positive
integer", in Faust's recovery seek), so the two modes never share a cluster in the suite.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

from streams.events import LLMRequest
from streams.localkafka import LocalKafka, free_port
from streams.settings import Settings
from streams.reply_client import ReplyClient
from tests.conftest import make_stack

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory) -> Iterator[str]:  # noqa: ANN001
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("needs a broker of its own; KAFKA_BOOTSTRAP_SERVERS points at a shared one")
    broker = LocalKafka(data_dir=tmp_path_factory.mktemp("eos-kafka"), cache_dir=Settings().hugai_cache_dir,
                        port=free_port())
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def test_an_exactly_once_worker_serves_requests(own_broker, tmp_path):
    dev, patch = make_stack(tmp_path, own_broker, HUGAI_PROCESSING_GUARANTEE="exactly_once")
    try:
        dev.start()
        run = uuid.uuid4().hex[:8]
        requests = [LLMRequest(request_id=f"eos-{run}-{i}", task_type="security_review", prompt=f"check this {i}")
                    for i in range(20)]

        async def call() -> dict:
            async with ReplyClient(dev.bootstrap) as client:  # reads with isolation_level=read_committed
                return await client.call(requests, timeout=60)

        responses = asyncio.run(call())
        assert sorted(responses) == sorted(r.request_id for r in requests)
        assert {r.status for r in responses.values()} == {"ok"}
        assert "processing guarantee: exactly_once" in (dev.log_dir / "worker.log").read_text()
    finally:
        dev.stop()
        patch.undo()
