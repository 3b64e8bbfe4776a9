"""A ReplyClient that cannot start leaves nothing running behind it."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from streams.client.reply_client import ReplyClient

pytestmark = pytest.mark.kafka


def test_a_client_that_fails_to_start_stops_what_it_started(kafka_bootstrap, monkeypatch):
    # Seen in CI: a consumer started but the rest failed, and asyncio.run then hung for minutes
    # cancelling the half-started client's background tasks.
    async def refuse(self: AIOKafkaProducer) -> None:
        raise KafkaConnectionError("no producer today")

    monkeypatch.setattr(AIOKafkaProducer, "start", refuse)
    client = ReplyClient(kafka_bootstrap)

    async def start_and_look() -> list[asyncio.Task]:
        with pytest.raises(KafkaConnectionError):
            await client.start()
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    left = asyncio.run(start_and_look())
    assert client._consumer is not None and client._consumer._closed
    assert left == [], f"tasks still running: {left}"
