"""The worker under processing_guarantee=exactly_once answers through a read_committed reader."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from streams.events import LLMRequest
from streams.reply_client import ReplyClient
from tests.conftest import make_stack

pytestmark = pytest.mark.kafka


def test_an_exactly_once_worker_serves_requests(kafka_bootstrap, tmp_path):
    dev, patch = make_stack(tmp_path, kafka_bootstrap, HUGAI_PROCESSING_GUARANTEE="exactly_once")
    try:
        dev.start()
        run = uuid.uuid4().hex[:8]
        requests = [LLMRequest(request_id=f"eos-{run}-{i}", task_type="security_review", prompt="check this")
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
