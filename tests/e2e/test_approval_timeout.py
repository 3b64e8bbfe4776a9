"""A critical request that no operator decides is rejected when the approval timeout passes.

On a stack of its own, so that its short timeout races nothing: in the two-worker cluster tests
the decided requests once lost that race to the CLI starting up on a loaded machine.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from analytics.store import ChdbStore
from streams.cli.devstack import DevStack
from streams.events import LLMRequest
from tests.conftest import config_file, running_stack
from tests.support.stack_io import ask, hugai

pytestmark = pytest.mark.kafka

TIMEOUT_S = 1


@pytest.fixture(scope="module")
def impatient(kafka_bootstrap: str, tmp_path_factory) -> Iterator[DevStack]:  # noqa: ANN001
    def change(raw: dict) -> None:
        raw["human_oversight"] = {"critical_task_types": ["security_review"], "approval_cost_threshold": "$0.0001",
                                  "approval_timeout": f"{TIMEOUT_S}s"}

    data = tmp_path_factory.mktemp("approval-timeout")
    with running_stack(data, kafka_bootstrap, HUGAI_CONFIG=str(config_file(data, change))) as dev:
        yield dev


def test_an_undecided_request_is_rejected_at_the_timeout_and_stays_rejected(impatient):
    dev = impatient
    rid = f"appr-timeout-{uuid.uuid4().hex[:6]}"
    (answer,) = ask(dev, [LLMRequest(request_id=rid, task_type="security_review", prompt="review this")]).values()
    assert (answer.status, answer.error.code) == ("rejected", "approval_timeout")
    assert f"no operator decision within {TIMEOUT_S} s" in answer.error.message

    late = hugai(dev, "approvals", "approve", rid, "--reason", "too late")
    assert late.returncode == 2 and f"{rid} was already rejected by timeout" in late.stderr, late.stderr

    dev.stop()  # the sink drains what is published and releases chdb's lock
    store = ChdbStore(dev.settings.chdb_path)
    try:
        audit = store.query(f"SELECT command, actor FROM control_audit FINAL WHERE target = '{rid}' ORDER BY at")
    finally:
        store.close()
    assert [(r["command"], r["actor"]) for r in audit] == [("approval_requested", "router"), ("approval_timeout", "timeout")]
