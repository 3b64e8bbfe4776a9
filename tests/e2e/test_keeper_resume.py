"""The budget keeper's crash window, forced: its input committed past settlements its ledger never recorded.

That is what a kill -9 leaves when Faust's commit passes a changelog write still in the worker's
buffer (streams/app/faust_app.py, _Consumer.seek_to_committed). Here the window is made on purpose instead
of hoped for: the keeper is stopped, two settlements are published, and the group's offset is
moved past them, as if the keeper had applied and committed them and then died before its
ledger write left. The next keeper must count them from its ledger's position, not skip them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.app.faust_app import APP_ID
from streams.cli.devstack import DevStack
from streams.events import BudgetRequest
from streams.events.topic_names import SETTLEMENTS
from streams.kafka.localkafka.processes import terminate
from tests.conftest import own_broker, running_stack
from tests.support.clock import clear_of_midnight
from tests.support.kafka_io import produce
from tests.support.stack_io import cluster_view, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.faults]

COST = 0.125  # exact in binary: sums compare equal


@pytest.fixture(scope="module")
def keeper_stack(tmp_path_factory) -> Iterator[DevStack]:  # noqa: ANN001
    with own_broker(tmp_path_factory.mktemp("resume-kafka")) as broker, \
            running_stack(tmp_path_factory.mktemp("resume"), broker.bootstrap) as dev:
        yield dev


def _settlements(n: int) -> list[tuple[bytes, bytes]]:
    run = uuid.uuid4().hex[:6]
    events = [BudgetRequest(kind="settle", request_id=f"resume-{run}-{i}", model="gpt-4-turbo", provider="openai",
                            worker="elsewhere", amount=COST, call_id="1") for i in range(n)]
    return [(e.request_id.encode(), e.to_bytes()) for e in events]


async def _commit_group_offset_at_end(bootstrap: str) -> int:
    """Move the workers' group past everything on llm.budget-settlements, as a keeper's commit would."""
    tp = TopicPartition(SETTLEMENTS, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=APP_ID, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        await consumer.commit({tp: end})
        return end
    finally:
        await consumer.stop()


def test_a_keeper_resumes_from_its_ledger_not_from_a_commit_past_it(keeper_stack):
    dev = keeper_stack
    clear_of_midnight(120)  # every settlement here must fall in one daily window
    key = f"daily:openai:{datetime.now(timezone.utc):%Y-%m-%d}"

    def spent() -> float:
        return cluster_view(dev)["worker"]["budgets"].get(key, {}).get("spent_usd", 0.0)

    asyncio.run(produce(dev.bootstrap, SETTLEMENTS, _settlements(3)))
    wait_for(lambda: spent() == 3 * COST, "the keeper to count the first three settlements",
             timeout=60, details=lambda: f"(spent ${spent()})")

    assert terminate(dev.children.pop("worker"), timeout=15), "the worker stops on SIGTERM"
    asyncio.run(produce(dev.bootstrap, SETTLEMENTS, _settlements(2)))
    committed = asyncio.run(_commit_group_offset_at_end(dev.bootstrap))
    assert committed >= 5

    dev.start_worker("worker")
    # Counted once each: neither skipped (the commit is past them) nor replayed (the first three).
    wait_for(lambda: spent() == 5 * COST, "the restarted keeper to count the two settlements past its ledger",
             timeout=60, details=lambda: f"(spent ${spent()}, want ${5 * COST})")
    time.sleep(2)  # the keeper broadcasts once a second: a first three counted again would show by now
    assert spent() == 5 * COST
    assert "where the ledger ends, not at the committed" in (dev.log_dir / "worker.log").read_text()
