"""Topics as the project creates and inspects them, on the session's broker (one node, auto-create on)."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.errors import KafkaError

from streams.kafka.admin import admin_client, ensure_topics, partitions_of
from streams.kafka.replication import TopicCopies, describe_copies

pytestmark = pytest.mark.kafka


async def test_a_topic_is_created_with_the_copies_a_one_broker_cluster_allows(kafka_bootstrap):
    name = f"copies-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [name], partitions=3)
    async with admin_client(kafka_bootstrap) as admin:
        found = await describe_copies(admin, [name])
    assert found == {name: TopicCopies(topic=name, partitions=3, replicas=1, min_insync=1)}


async def test_describing_a_missing_topic_does_not_create_it(kafka_bootstrap):
    # A metadata request for a missing topic makes a broker with auto-create on create it; `hugai-llm
    # kafka check` must report such a topic missing, not make it.
    name = f"never-made-{uuid.uuid4().hex[:8]}"
    async with admin_client(kafka_bootstrap) as admin:
        assert await describe_copies(admin, [name]) == {}
        assert name not in await admin.list_topics()


async def test_waiting_for_a_missing_topic_names_it_and_does_not_create_it(kafka_bootstrap):
    name = f"never-made-{uuid.uuid4().hex[:8]}"
    with pytest.raises(KafkaError, match=rf"broker 1 lacks \['{name}'\]"):
        await partitions_of(kafka_bootstrap, [name], wait_s=0.3)
    async with admin_client(kafka_bootstrap) as admin:
        assert name not in await admin.list_topics()
