"""The router on a 3-broker KRaft cluster with broker auto-create off, as production runs Kafka.

Every topic, Faust's included, gets 3 copies and min.insync.replicas 2, created by whichever
process starts first (each is started alone on a cluster without our topics); and a broker killed mid-load loses no request: each is answered exactly once, and the spend
stored equals the answers' usage priced at the catalog's rates.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.protocol.metadata import MetadataRequest

from analytics.store import ChdbStore
from providers import Usage
from streams.agents.price_book import PriceBook
from streams.app.faust_app import APP_ID
from streams.client.reply_client import ReplyClient
from streams.config import load_config
from streams.events import LLMRequest
from streams.events.topic_names import REQUESTS, TELEMETRY
from streams.kafka.admin import admin_client, ensure_topics
from streams.kafka.localkafka import LocalKafkaCluster, free_port
from streams.kafka.replication import Replication, describe_copies
from streams.kafka.topics import create_topics, project_topics
from tests.conftest import own_cluster, running_stack
from tests.e2e.test_crash import committed_counts

pytestmark = [pytest.mark.kafka, pytest.mark.faults]

FAUST_TOPICS = {f"{APP_ID}-__assignor-__leader", f"{APP_ID}-budget-ledger-changelog",
                f"{APP_ID}-model-breakers-changelog", f"{APP_ID}-model-figures-changelog"}
N, RATE, KILL_AFTER = 180, 30.0, 80


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[LocalKafkaCluster]:  # noqa: ANN001
    with own_cluster(tmp_path_factory.mktemp("cluster")) as started:
        yield started


async def _copies(bootstrap: str) -> dict:
    async with admin_client(bootstrap) as admin:
        ours = [t for t in await admin.list_topics() if t.startswith(("llm.", f"{APP_ID}-"))]
        return await describe_copies(admin, ours)


async def _delete_ours(bootstrap: str) -> None:
    """The next order starts from a cluster without our topics. Deletion is asynchronous: wait it out."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(("llm.", f"{APP_ID}-"))]
        if ours:
            await admin.delete_topics(ours)
        deadline = time.monotonic() + 30
        while set(ours) & set(await admin.list_topics()):
            assert time.monotonic() < deadline, "topics still listed 30 s after their deletion"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


def test_a_topic_with_fewer_copies_is_named_and_left_as_it_is(cluster):
    asyncio.run(_delete_ours(cluster.bootstrap))

    async def one_copy_telemetry() -> None:
        async with admin_client(cluster.bootstrap) as admin:
            await admin.create_topics([NewTopic(TELEMETRY, 4, 1)])

    asyncio.run(one_copy_telemetry())
    report = asyncio.run(create_topics(cluster.bootstrap, partitions=4))
    check = subprocess.run([sys.executable, "-m", "streams.cli", "kafka", "check"], capture_output=True, text=True,
                           env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap, "COLUMNS": "200"})
    assert report.replication == Replication(factor=3, min_insync=2)
    assert report.lacking == [f"{TELEMETRY}: 1 copies, 3 wanted, min.insync.replicas 1, 2 wanted"]
    assert TELEMETRY not in report.created and REQUESTS in report.created
    assert asyncio.run(_copies(cluster.bootstrap))[TELEMETRY].replicas == 1, "an existing topic is never changed"
    assert check.returncode == 1, check.stdout + check.stderr
    assert "1 copies, 3 wanted" in check.stdout and "1 topic(s) below" in check.stdout


async def _brokers_lacking(cluster: LocalKafkaCluster, topic: str) -> list[int]:
    """The brokers whose own metadata does not have `topic` yet, each asked directly."""
    lacking = []
    for node in cluster.nodes:
        client = AIOKafkaClient(bootstrap_servers=node.bootstrap)
        await client.bootstrap()
        try:
            response = await client.send(node.node_id, MetadataRequest([topic], allow_auto_topic_creation=False))
            if not any(t["topic"] == topic and t["error_code"] == 0 for t in response.to_object()["topics"]):
                lacking.append(node.node_id)
        finally:
            await client.close()
    return lacking


def test_a_topic_is_known_to_every_broker_once_ensure_topics_returns(cluster):
    """A client asks any broker it likes. A reply client whose consumer asked one that KRaft's
    metadata had not reached yet failed to start (UnknownTopicOrPartitionError, in CI)."""
    names = [f"llm.replies.everywhere-{uuid.uuid4().hex[:8]}" for _ in range(8)]

    async def create_and_ask() -> dict[str, list[int]]:
        lacking = {}
        for name in names:
            await ensure_topics(cluster.bootstrap, [name], partitions=1)
            lacking[name] = await _brokers_lacking(cluster, name)
        return lacking

    lacking = asyncio.run(create_and_ask())
    assert lacking == {name: [] for name in names}


@pytest.mark.parametrize("alone", ["sink", "worker"])
def test_whichever_process_starts_first_creates_every_topic_with_three_copies(cluster, tmp_path, alone):
    """Each process alone, on a cluster without our topics: what it creates is all anyone needs."""
    asyncio.run(_delete_ours(cluster.bootstrap))
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap, "HUGAI_DATA_DIR": str(tmp_path),
           "HUGAI_HTTP_PORT": str(free_port()), "HUGAI_REPORTS_PORT": str(free_port())}
    wanted = set(project_topics(partitions=4)) | FAUST_TOPICS
    found: dict = {}
    with open(tmp_path / f"{alone}.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "streams.cli", alone], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not wanted <= set(found) and time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / f"{alone}.log").read_text()[-2000:]
            time.sleep(0.5)
            found = asyncio.run(_copies(cluster.bootstrap))
    finally:
        process.terminate()
        process.wait(30)
    assert wanted <= set(found), f"missing: {sorted(wanted - set(found))}"
    short = {name: (c.replicas, c.min_insync) for name, c in found.items() if (c.replicas, c.min_insync) != (3, 2)}
    assert not short, f"topics without 3 copies and min.insync.replicas 2: {short}"
    assert found[REQUESTS].partitions == 4


async def _leader_of_requests(bootstrap: str, partition: int) -> int:
    async with admin_client(bootstrap) as admin:
        [topic] = await admin.describe_topics([REQUESTS])
        return next(p["leader"] for p in topic["partitions"] if p["partition"] == partition)


def test_a_broker_killed_mid_load_loses_no_request_and_answers_each_once(cluster, tmp_path):
    run = uuid.uuid4().hex[:6]
    requests = [LLMRequest(request_id=f"lost-broker-{run}-{i}", task_type="code_generation", prompt=f"survive {i}")
                for i in range(N)]
    results: dict = {}
    with running_stack(tmp_path, cluster.bootstrap) as dev:

        async def drive() -> None:
            async with ReplyClient(dev.bootstrap) as client:
                futures: dict = {}
                started = time.monotonic()
                for i, request in enumerate(requests):
                    await asyncio.sleep(max(0.0, started + i / RATE - time.monotonic()))
                    futures |= await client.publish([request])
                    if i + 1 == KILL_AFTER:
                        results["killed"] = await _leader_of_requests(dev.bootstrap, 0)
                        results["answered_before"] = sum(f.done() for f in futures.values())
                        await asyncio.to_thread(cluster.kill, results["killed"])
                        killed_at = time.monotonic()
                done, pending = await asyncio.wait(futures.values(), timeout=120)
                results.update(pending=len(pending), all_answered_s=time.monotonic() - killed_at,
                               responses={rid: f.result() for rid, f in futures.items() if f.done()},
                               reply_topic=client.reply_topic)

        asyncio.run(drive())
        ids = {r.request_id for r in requests}
        counts = asyncio.run(committed_counts(dev.bootstrap, results["reply_topic"], ids, 60))
        rows = asyncio.run(committed_counts(dev.bootstrap, TELEMETRY, ids, 60, kind="request_completed"))
    print(f"\n[cluster] broker {results['killed']} (leader of {REQUESTS}[0]) killed after {KILL_AFTER} of {N} "
          f"requests sent, {results['answered_before']} answered; every request answered "
          f"{results['all_answered_s']:.1f} s after the kill; {results['pending']} unanswered")
    assert results["pending"] == 0
    assert counts == Counter({rid: 1 for rid in ids}), "exactly one response per request"
    assert rows == Counter({rid: 1 for rid in ids}), "exactly one completed-request event per request"
    assert {r.status for r in results["responses"].values()} == {"ok"}

    config = load_config()
    priced = sum(PriceBook.cost(config.models[r.model], Usage(**r.usage.model_dump()))
                 for r in results["responses"].values())
    store = ChdbStore(dev.settings.chdb_path)
    try:
        stored = store.query(f"SELECT sum(cost_usd) AS cost, count() AS n FROM requests FINAL "
                             f"WHERE request_id LIKE 'lost-broker-{run}-%'")[0]
    finally:
        store.close()
    print(f"[cluster] ClickHouse: {stored['n']} requests, ${float(stored['cost']):.9f}; usage x price ${priced:.9f}")
    assert priced > 0 and int(stored["n"]) == N
    assert float(stored["cost"]) == pytest.approx(priced, abs=1e-9)
