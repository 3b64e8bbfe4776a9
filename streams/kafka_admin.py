"""Small admin tasks against any Kafka cluster: is it ready, and create our topics up front.

Faust creates its own changelog topics but not the source topics agents read, and a consumer
that starts before its topic exists ignores it until the next rebalance. So topics come first.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

__all__ = ["cluster_ready", "ensure_topics"]

log = logging.getLogger(__name__)


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


async def ensure_topics(bootstrap: str, names: list[str], *, partitions: int) -> None:
    """Create any of `names` that do not exist yet, with `partitions` partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, partitions, 1) for name in names if name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process created it between our list and create
            log.info("created topics %s", [t.name for t in missing])
    finally:
        await admin.close()
