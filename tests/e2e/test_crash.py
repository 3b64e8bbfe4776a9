"""kill -9 a worker in the middle of 1,200 requests, restart it, and count.

Every request has exactly one response, and the budget keeper's spend, the responses' costs and
ClickHouse's sum are equal. What the dead worker had in flight is served again by the next owner of
its partition; its own unfinished transaction is aborted, so none of it is seen (streams/kafka/outbox.py).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from aiokafka import AIOKafkaConsumer

from analytics.store import ChdbStore
from streams.cli.devstack import DevStack
from streams.client.reply_client import ReplyClient
from streams.events import LLMRequest
from streams.events.topic_names import ANSWERED, REQUESTS, TELEMETRY
from tests.conftest import own_broker, running_stack
from tests.support.stack_io import cluster_view, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.faults]

N = 1200


@pytest.fixture(scope="module")
def crash_stack(tmp_path_factory) -> Iterator[DevStack]:  # noqa: ANN001
    with own_broker(tmp_path_factory.mktemp("crash-kafka")) as broker, \
            running_stack(tmp_path_factory.mktemp("crash"), broker.bootstrap, workers=2) as dev:
        yield dev


async def committed_counts(bootstrap: str, topic: str, ids: set[str], timeout: float,
                           kind: str | None = None) -> Counter:
    """How many committed records of each request `topic` has (of event_type `kind`), read until all have one."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    counts: Counter = Counter()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not ids <= set(counts):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                counts.update(_ids(records, ids, kind))
        await asyncio.sleep(3)  # anything a restarted worker would send twice comes now
        for records in (await consumer.getmany(timeout_ms=2000)).values():
            counts.update(_ids(records, ids, kind))
    finally:
        await consumer.stop()
    return counts


async def where_they_are(bootstrap: str, reply_topic: str, missing: set[str]) -> str:
    """For a failure: where each unanswered request is in llm.requests, and whether it has a marker or a response."""
    async def read(topics: list[str], isolation: str) -> tuple[list, dict]:
        consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False, isolation_level=isolation)
        await consumer.start()
        records: list = []
        try:
            while batch := await consumer.getmany(timeout_ms=2000):
                records += [r for rs in batch.values() for r in rs]
            ends = await consumer.end_offsets(list(consumer.assignment()))
        finally:
            await consumer.stop()
        return records, ends

    requests, _ = await read([REQUESTS], "read_uncommitted")
    at = {json.loads(r.value)["request_id"]: (r.partition, r.offset) for r in requests
          if json.loads(r.value).get("request_id") in missing}
    lines = []
    for isolation in ("read_committed", "read_uncommitted"):
        markers, marker_ends = await read([ANSWERED], isolation)
        marked = {(r.partition, int(r.key)) for r in markers}
        replies, reply_ends = await read([reply_topic], isolation)
        answered = {json.loads(r.value)["request_id"] for r in replies}
        lines.append(f"{isolation}: marked {sum(at[m] in marked for m in at)}, answered {len(answered & missing)} "
                     f"of {len(missing)}; reply topic ends {list(reply_ends.values())}, markers end {marker_ends}")
    lines.append(f"where: {sorted(at.values())[:30]}")
    return "[crash] unanswered: " + "; ".join(lines)


def _ids(records: list, ids: set[str], kind: str | None) -> Iterator[str]:
    for record in records:
        event = json.loads(record.value)
        # A served request's telemetry is one record holding its events (RequestServed).
        for each in event["events"] if event.get("event_type") == "request_served" else [event]:
            if each.get("request_id") in ids and (kind is None or each.get("event_type") == kind):
                yield each["request_id"]


def test_a_worker_killed_mid_run_answers_each_request_once_and_counts_its_spend_once(crash_stack):
    dev, run = crash_stack, uuid.uuid4().hex[:6]
    first_day = datetime.now(timezone.utc)
    requests = [LLMRequest(request_id=f"crash-{run}-{i}", task_type="requirements_analysis",
                           prompt=f"request {i} of the crash run") for i in range(N)]
    results: dict = {}

    async def drive() -> None:
        async with ReplyClient(dev.bootstrap) as client:
            futures = await client.publish(requests)
            while sum(f.done() for f in futures.values()) < N // 4:
                await asyncio.sleep(0.05)
            dev.kill("worker-2")  # mid-run: a quarter answered
            killed_at = sum(f.done() for f in futures.values())
            # Started from this thread, not a helper thread: the child dies with the thread that made it.
            dev.start_worker("worker-2", wait=False)
            done, pending = await asyncio.wait(futures.values(), timeout=240)
            results.update(killed_at=killed_at, pending=len(pending),
                           responses={rid: f.result() for rid, f in futures.items() if f.done()},
                           reply_topic=client.reply_topic)

    asyncio.run(drive())
    print(f"\n[crash] worker-2 killed after {results['killed_at']} of {N} answers; {results['pending']} unanswered")
    ids = {r.request_id for r in requests}
    if results["pending"]:
        missing = ids - set(results["responses"])
        print(asyncio.run(where_they_are(dev.bootstrap, results["reply_topic"], missing)))
    assert results["pending"] == 0
    counts = asyncio.run(committed_counts(dev.bootstrap, results["reply_topic"], ids, 60))
    rows = asyncio.run(committed_counts(dev.bootstrap, TELEMETRY, ids, 60, kind="request_completed"))
    print(f"[crash] responses: {len(counts)} requests answered, {sum(counts.values())} responses in all; "
          f"{sum(rows.values())} request_completed events")
    assert counts == Counter({rid: 1 for rid in ids}), "exactly one response per request"
    assert rows == Counter({rid: 1 for rid in ids}), "exactly one completed-request event per request"

    spent = sum(r.cost_usd for r in results["responses"].values())
    # Every provider that answered (a burst may exhaust a provider's rate limit and fall back to
    # another's model); a run across midnight UTC spends in two daily windows.
    providers = {r.provider for r in results["responses"].values() if r.cost_usd}
    keys = {f"daily:{provider}:{day:%Y-%m-%d}" for provider in providers
            for day in (first_day, datetime.now(timezone.utc))}

    def keeper() -> float:
        budgets = cluster_view(dev)["worker"]["budgets"]
        return sum(budgets[key]["spent_usd"] for key in keys if key in budgets) if keys & set(budgets) else -1.0

    # Settlements are published with their responses, in one transaction: the ledger is the answers.
    settled = wait_for(lambda: abs((k := keeper()) - spent) < 1e-9 and k, "the keeper's spend to equal the answers'",
                       timeout=60, details=lambda: f"(answers ${spent:.9f}, keeper ${keeper():.9f})")
    dev.stop()
    store = ChdbStore(dev.settings.chdb_path)
    try:
        stored = store.query(f"SELECT sum(cost_usd) AS cost, count() AS n FROM requests FINAL "
                             f"WHERE request_id LIKE 'crash-{run}-%'")[0]
    finally:
        store.close()
    print(f"[crash] keeper spend ${settled:.9f}; answers' costs ${spent:.9f}; ClickHouse ${float(stored['cost']):.9f}")
    assert int(stored["n"]) == N
    assert float(stored["cost"]) == pytest.approx(spent, abs=1e-9)
