"""The worker under processing_guarantee=exactly_once answers through a read_committed reader.

It gets a broker of its own: Faust's table recovery in a later at_least_once stack with the same
app id crashed here on the transactional changelogs this one leaves ("Offset must be a positive
integer", in Faust's recovery seek), so the two modes never share a cluster in the suite.
"""

from __future__ import annotations

import uuid

import pytest

from streams.events import LLMRequest
from tests.conftest import own_broker, running_stack
from tests.support.stack_io import ask

pytestmark = pytest.mark.kafka


def test_an_exactly_once_worker_serves_requests(tmp_path):
    with own_broker(tmp_path / "kafka") as broker, \
            running_stack(tmp_path, broker.bootstrap, HUGAI_PROCESSING_GUARANTEE="exactly_once") as dev:
        run = uuid.uuid4().hex[:8]
        requests = [LLMRequest(request_id=f"eos-{run}-{i}", task_type="security_review", prompt=f"check this {i}")
                    for i in range(20)]
        responses = ask(dev, requests)  # ReplyClient reads with isolation_level=read_committed
        assert sorted(responses) == sorted(r.request_id for r in requests)
        assert {r.status for r in responses.values()} == {"ok"}
        assert "processing guarantee: exactly_once" in (dev.log_dir / "worker.log").read_text()
