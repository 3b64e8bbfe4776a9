"""Topic names and their Faust declarations. Values are raw bytes: events.py owns the JSON."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import faust

from streams.config.schema import ResponseCaching
from streams.kafka.admin import admin_client, create_missing, ensure_topics, partitions_of
from streams.kafka.replication import Replication, cluster_replication, describe_copies, shortfalls

__all__ = ["REQUESTS", "RESPONSES", "TELEMETRY", "DLQ", "FEEDBACK", "CORE_TOPICS", "STATE_TOPICS", "Topics",
           "create_topics", "project_topics", "faust_topics", "TopicsReport"]

from streams.events.topic_names import (
    ANSWERED,
    APPROVALS,
    BUDGET,
    BUDGET_DECISIONS,
    BUDGET_STATE,
    CACHE_ENTRIES,
    CONTROL,
    CORE_TOPICS,
    DLQ,
    FAUST_APP_ID,
    FEEDBACK,
    IDEMPOTENCY_ENTRIES,
    MAX_ANSWER_BYTES,
    MAX_REQUEST_BATCH_BYTES,
    MODEL_FIGURES_EXPIRES_S,
    MODEL_HEALTH,
    OUTCOMES,
    REQUESTS,
    RESPONSES,
    SETTLEMENTS,
    SINGLE_PARTITION_TOPICS,
    STATE_TOPICS,
    TELEMETRY,
)

log = logging.getLogger(__name__)

# Topics that carry whole answers, embeddings' vectors included.
ANSWER_SIZED = {"max.message.bytes": str(MAX_ANSWER_BYTES)}

# A table's changelog: Faust's own setting (cleanup.policy compact), without COMPACTED's lag.
COMPACTED_ONLY = {"cleanup.policy": "compact"}

# The state topics keep the last record per key for ever: a worker that starts reads them whole.
COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}


# The outbox finds the answered markers to read by the append time of the first request not yet
# committed (streams/kafka/outbox.py): both topics take their timestamps from the broker.
APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}


def entry_retention(ttl_s: float) -> dict[str, str]:
    """Compacted (the last entry per key) and deleted after the ttl, for the next owner reads the
    partition whole when it takes it over. Segments roll often enough for the deletion to happen:
    the broker deletes whole closed segments only. Read back, an expired entry is skipped anyway."""
    ttl_ms = max(int(ttl_s * 1000), 1000)
    return {"cleanup.policy": "compact,delete", "retention.ms": str(ttl_ms),
            "segment.ms": str(max(ttl_ms // 2, 60_000)), "min.compaction.lag.ms": "0"}


def project_topics(partitions: int, caching: ResponseCaching | None = None) -> dict[str, tuple[int, dict[str, str]]]:
    """Every topic the project reads or writes (Faust's own aside): name -> (partitions, topic configs)."""
    caching = caching or ResponseCaching()
    return {
        REQUESTS: (partitions, {**APPEND_TIME, "max.message.bytes": str(MAX_REQUEST_BATCH_BYTES)}),
        ANSWERED: (partitions, APPEND_TIME),
        # As many partitions as llm.requests: partition p holds the answers shared on partition p.
        CACHE_ENTRIES: (partitions, {**entry_retention(caching.ttl.total_seconds()), **ANSWER_SIZED}),
        IDEMPOTENCY_ENTRIES: (partitions, {**entry_retention(caching.idempotency_ttl.total_seconds()), **ANSWER_SIZED}),
        **{name: (partitions, {}) for name in CORE_TOPICS if name not in (REQUESTS, RESPONSES)},
        RESPONSES: (partitions, ANSWER_SIZED),
        **{name: (1, {}) for name in SINGLE_PARTITION_TOPICS},
        **{name: (1, COMPACTED) for name in STATE_TOPICS},
    }


def faust_topics(partitions: int) -> dict[str, tuple[int, dict[str, str]]]:
    """Faust's own topics, as Faust would create them: the tables' changelogs (compacted; the windowed
    figures' also deleted after their expiry) and the assignor's. Created here, with ours, so that they
    are in the brokers' metadata before Faust starts: created by Faust at its start on a new cluster, a
    changelog was once missing from its consumer's metadata for the worker's whole life ("has 0
    partitions"), and every budget reservation failed. Faust finds them and leaves them as they are."""
    return {
        f"{FAUST_APP_ID}-budget-ledger-changelog": (1, COMPACTED_ONLY),  # one partition, as llm.budget
        f"{FAUST_APP_ID}-model-breakers-changelog": (partitions, COMPACTED_ONLY),
        f"{FAUST_APP_ID}-model-figures-changelog": (partitions, {"cleanup.policy": "compact,delete",
                                                                 "retention.ms": str(int(MODEL_FIGURES_EXPIRES_S * 1000))}),
        f"{FAUST_APP_ID}-__assignor-__leader": (1, {}),
    }


async def create_topics(bootstrap: str, *, partitions: int, caching: ResponseCaching | None = None) -> TopicsReport:
    """Every topic the project uses, before any consumer starts; called by every process at start, so
    whichever starts first creates them all and nothing relies on the broker's auto-create.

    A topic that exists is left as it is (its retention and copies too); one with fewer partitions,
    copies or min.insync.replicas than wanted is named in one log line and in the report."""
    wanted = project_topics(partitions, caching) | faust_topics(partitions)
    async with admin_client(bootstrap) as admin:
        replication = await cluster_replication(admin)
        created = await create_missing(admin, wanted, replication)
        # Only topics that were there before: one created a moment ago, here or by another process,
        # may not be in the brokers' metadata yet (KRaft publishes it asynchronously).
        existing = [name for name in wanted if name not in created]
        found = await describe_copies(admin, existing)
        lacking = shortfalls(found, {name: wanted[name][0] for name in existing if name in found}, replication)
    # KRaft publishes new topics to the brokers' metadata a moment after it answers their creation.
    await partitions_of(bootstrap, list(wanted), wait_s=30.0)
    if lacking:
        log.warning("topics below what this cluster should hold, left as they are (an operator moves replicas "
                    "with kafka-reassign-partitions; `hugai-llm kafka check` lists them): %s", "; ".join(lacking))
    return TopicsReport(replication=replication, created=created, lacking=lacking)


@dataclass(frozen=True)
class TopicsReport:
    replication: Replication
    created: list[str]
    lacking: list[str]  # one line per topic below what is wanted


class Topics:
    """The app's topics, plus reply topics, created on first use and kept."""

    def __init__(self, app: faust.App, bootstrap: str):
        self._app = app
        self._bootstrap = bootstrap
        self.requests = self._declare(REQUESTS)
        self.telemetry = self._declare(TELEMETRY)
        self.outcomes = self._declare(OUTCOMES)
        self.health = self._declare(MODEL_HEALTH)
        self.control = self._declare(CONTROL)
        self.approvals = self._declare(APPROVALS)
        # The budget keeper reads both, on the same worker (one partition each, one topic group).
        self.budget = self._app.topic(BUDGET, SETTLEMENTS, key_type=bytes, value_type=bytes, key_serializer="raw",
                                      value_serializer="raw")
        self.budget_decisions = self._declare(BUDGET_DECISIONS)
        self.budget_state = self._declare(BUDGET_STATE)
        self._replies: set[str] = {RESPONSES}
        self._creating: dict[str, asyncio.Lock] = {}

    def _declare(self, name: str) -> faust.TopicT:
        return self._app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    async def reply_name(self, name: str | None) -> str:
        """The topic a response goes to: the request's reply_to, else llm.responses.

        A reply topic the client did not create is created here, once. Relying on the broker's
        auto-creation is not enough: sends to a missing topic were seen to wait on metadata
        without the topic ever being created.
        """
        name = name or RESPONSES
        if name in self._replies:
            return name
        async with self._creating.setdefault(name, asyncio.Lock()):
            if name not in self._replies:
                await ensure_topics(self._bootstrap, [name], partitions=1, configs=ANSWER_SIZED)
                self._replies.add(name)
        return name
