"""How many copies of each topic: one rule for every topic the project creates, Faust's included.

At replication factor 1 a lost broker takes its partitions with it: requests Kafka had acknowledged
were never answered, and transactions that touched those partitions failed until the broker came
back (issue #36, measured on 3 brokers). So each topic gets min(3, brokers) copies unless
HUGAI_REPLICATION_FACTOR says otherwise, and min.insync.replicas of min(2, copies): with acks=all
an acknowledged write is then on two brokers, and one broker may be lost with nothing lost.

A topic that exists is never changed here (moving replicas is an operator's decision, with
kafka-reassign-partitions); one with fewer copies or partitions than wanted is named instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

__all__ = ["REPLICATION_ENV", "Replication", "ReplicationError", "TopicCopies", "cluster_replication",
           "describe_copies", "shortfalls"]

REPLICATION_ENV = "HUGAI_REPLICATION_FACTOR"
MIN_INSYNC = "min.insync.replicas"


class ReplicationError(ValueError):
    """The replication asked for cannot be had. The message names the setting and the cluster's size."""


@dataclass(frozen=True)
class Replication:
    factor: int
    min_insync: int

    @classmethod
    def for_brokers(cls, brokers: int, wanted: int | None = None) -> Replication:
        factor = min(3, brokers) if wanted is None else wanted
        if factor > brokers:
            raise ReplicationError(f"{REPLICATION_ENV}={factor}, but the cluster has {brokers} broker(s) running; "
                                   "a topic cannot have more copies than brokers")
        return cls(factor=max(factor, 1), min_insync=min(2, max(factor, 1)))

    @property
    def topic_configs(self) -> dict[str, str]:
        return {MIN_INSYNC: str(self.min_insync)}


def wanted_factor() -> int | None:
    """HUGAI_REPLICATION_FACTOR, read where topics are created (worker, sink, clients), checked here."""
    raw = os.environ.get(REPLICATION_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ReplicationError(f"{REPLICATION_ENV} must be a whole number of copies, 1 or more; got {raw!r}")
    return int(raw)


async def cluster_replication(admin: AIOKafkaAdminClient) -> Replication:
    """The replication for topics created on this cluster now: from the brokers running."""
    cluster = await admin.describe_cluster()
    return Replication.for_brokers(len(cluster["brokers"]), wanted_factor())


@dataclass(frozen=True)
class TopicCopies:
    topic: str
    partitions: int
    replicas: int  # the fewest copies any of its partitions has
    min_insync: int


async def describe_copies(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, TopicCopies]:
    """Partitions, copies and min.insync.replicas of each of `topics` that exists.

    Only topics listed are described: a metadata request for a missing topic makes a broker with
    auto-create on create it, with its default partitions, which is what `kafka check` must never do."""
    existing = set(await admin.list_topics())
    present = [t for t in topics if t in existing]
    if not present:  # an empty list would describe every topic
        return {}
    described = {t["topic"]: t for t in await admin.describe_topics(present) if t["error_code"] == 0}
    if not described:
        return {}
    min_insync: dict[str, int] = {}
    for response in await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs={MIN_INSYNC: None}) for name in described]):
        for _code, _message, _kind, name, entries in response.resources:
            for entry in entries:
                if entry[0] == MIN_INSYNC and entry[1] is not None:
                    min_insync[name] = int(entry[1])
    return {name: TopicCopies(topic=name, partitions=len(t["partitions"]),
                              replicas=min((len(p["replicas"]) for p in t["partitions"]), default=0),
                              min_insync=min_insync.get(name, 1))
            for name, t in described.items()}


def shortfalls(found: dict[str, TopicCopies], partitions: dict[str, int], replication: Replication) -> list[str]:
    """What each topic lacks against `partitions` (topic -> partitions wanted) and `replication`."""
    lacking = []
    for name in sorted(partitions):
        copies = found.get(name)
        if copies is None:
            lacking.append(f"{name}: missing")
            continue
        gaps = []
        if copies.partitions < partitions[name]:
            gaps.append(f"{copies.partitions} partitions, {partitions[name]} wanted")
        if copies.replicas < replication.factor:
            gaps.append(f"{copies.replicas} copies, {replication.factor} wanted")
        if copies.min_insync < replication.min_insync:
            gaps.append(f"min.insync.replicas {copies.min_insync}, {replication.min_insync} wanted")
        if gaps:
            lacking.append(f"{name}: " + ", ".join(gaps))
    return lacking
