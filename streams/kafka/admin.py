"""Small admin tasks against any Kafka cluster: is it ready, and create our topics up front.

Faust creates its own changelog topics but not the source topics agents read, and a consumer
that starts before its topic exists ignores it until the next rebalance. So topics come first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.protocol.metadata import MetadataRequest

from streams.kafka.replication import Replication, cluster_replication

__all__ = ["admin_client", "cluster_ready", "create_missing", "ensure_topics", "group_lag", "partitions_of"]

log = logging.getLogger(__name__)

BROKER_ANSWER_S = 5.0  # how long one broker may take to describe topics before it is passed over


def cluster_ready(bootstrap: str) -> bool:
    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
            return bool(cluster.get("brokers"))
        except (KafkaError, OSError, asyncio.TimeoutError):
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())


async def ensure_topics(bootstrap: str, names: list[str], *, partitions: int,
                        configs: dict[str, str] | None = None) -> None:
    """Create any of `names` that do not exist yet, with `partitions` partitions and topic `configs`,
    replicated as the cluster allows (streams/kafka/replication.py), and return once every broker
    knows them (see partitions_of)."""
    async with admin_client(bootstrap) as admin:
        await create_missing(admin, {name: (partitions, configs or {}) for name in names},
                             await cluster_replication(admin))
        await _wait_until_known(admin, names, wait_s=30.0)


async def create_missing(admin: AIOKafkaAdminClient, wanted: dict[str, tuple[int, dict[str, str]]],
                         replication: Replication) -> list[str]:
    """Create the topics of `wanted` (name -> partitions, configs) that do not exist; the names created."""
    existing = set(await admin.list_topics())
    missing = [NewTopic(name, partitions, replication.factor, topic_configs={**replication.topic_configs, **configs})
               for name, (partitions, configs) in wanted.items() if name not in existing]
    if not missing:
        return []
    try:
        response = await admin.create_topics(missing)
    except TopicAlreadyExistsError:
        return []  # another process created them between our list and create
    # Per-topic errors come back in the response, not as exceptions.
    failed = {name: f"{_error_name(code)}: {message}" for name, code, message in response.topic_errors
              if code not in (0, TopicAlreadyExistsError.errno)}
    if failed:
        raise KafkaError(f"cannot create topics at replication factor {replication.factor}: {failed}")
    created = [t.name for t in missing]
    log.info("created topics %s (%d copies, min.insync.replicas %d)", created, replication.factor,
             replication.min_insync)
    return created


def _error_name(code: int) -> str:
    error = for_code(code)
    return error.__name__ if error is not None else f"error {code}"


@asynccontextmanager
async def admin_client(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def partitions_of(bootstrap: str, topics: list[str], *, wait_s: float = 10.0) -> list[TopicPartition]:
    """Every partition of `topics`, once every broker knows them all. A topic created a moment ago
    reaches each broker's metadata on that broker's own time (KRaft publishes it asynchronously),
    and a client asks whichever broker it likes: a consumer started on one that lags fails with
    UnknownTopicOrPartitionError, or (in a group) is left without the topic until its next
    rebalance. So this waits up to `wait_s` until all of them have every topic."""
    async with admin_client(bootstrap) as admin:
        return await _wait_until_known(admin, topics, wait_s)


async def _wait_until_known(admin: AIOKafkaAdminClient, topics: list[str], wait_s: float) -> list[TopicPartition]:
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        found, missing = await _known_to_every_broker(admin, topics)
        if not missing:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise KafkaError(f"topics not found after {wait_s:g} s: {missing}")
        await asyncio.sleep(0.1)


async def _known_to_every_broker(admin: AIOKafkaAdminClient, topics: list[str]) -> tuple[list[TopicPartition], str]:
    """The partitions of `topics` and a description of what any broker lacks ("" when none lacks a thing)."""
    found: set[TopicPartition] = set()
    lacking, answered = [], 0
    # Never auto-create: this only looks (on a broker with auto-create on, a metadata request would create).
    request = MetadataRequest(topics, allow_auto_topic_creation=False)
    for broker in sorted(admin._client.cluster.brokers(), key=lambda b: b.nodeId):
        try:
            # Bounded: a machine that is gone may not refuse the connection, just never answer.
            response = await asyncio.wait_for(admin._send_request(request, node_id=broker.nodeId), BROKER_ANSWER_S)
        except (KafkaError, OSError, asyncio.TimeoutError):
            continue  # a broker that is down serves no client either; the metadata drops it once it is fenced
        answered += 1
        described = response.to_object()["topics"]
        known = {t["topic"] for t in described if t["error_code"] == 0}
        found |= {TopicPartition(t["topic"], p["partition"]) for t in described if t["error_code"] == 0
                  for p in t["partitions"]}
        if gaps := sorted(set(topics) - known):
            lacking.append(f"broker {broker.nodeId} lacks {gaps}")
    if not answered:
        lacking.append("no broker answered")
    return sorted(found), "; ".join(lacking)


async def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Messages on `topic` that consumer group `group` has not committed yet, over all partitions."""
    partitions = await partitions_of(bootstrap, [topic])
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        ends = await consumer.end_offsets(partitions)
        return sum(max(0, end - (committed[tp].offset if tp in committed else 0)) for tp, end in ends.items())
    finally:
        await consumer.stop()
        await admin.close()
