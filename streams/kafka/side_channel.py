"""A plain Kafka producer for messages that must be seen at once, outside Faust's transactions.

Under processing_guarantee=exactly_once every send from an agent joins the transaction of the
event being processed, and read_committed consumers see it only when that transaction commits:
after the event is done. A worker that asks the budget keeper for a reservation, or the cache
keeper for an answer, while processing a request would wait for its own commit: a deadlock (seen:
a worker under exactly_once answered nothing). Questions, answers and broadcasts of state go here
instead. What must count once with the response (budget settlements, telemetry) goes through the
request agent's own transactions (streams/kafka/outbox.py).
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

__all__ = ["SideChannel"]


class SideChannel:
    def __init__(self, bootstrap: str):
        self._bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def send(self, topic: str, key: bytes, value: bytes, *, wait: bool = False) -> None:
        """Hand the message to the producer; with wait=True, also wait for the broker's ack."""
        producer = self._producer or await self._start()
        delivery = await producer.send(topic, value, key=key)
        if wait:
            await delivery

    async def send_later(self, topic: str, key: bytes, value: bytes) -> asyncio.Future:
        """Hand the message to the producer; return the future of the broker's ack, for the caller to
        await when it needs the message to be there (a stream's pieces, before its answer)."""
        producer = self._producer or await self._start()
        return await producer.send(topic, value, key=key)

    async def partition_count(self, topic: str) -> int:
        producer = self._producer or await self._start()
        return len(await producer.partitions_for(topic))

    async def start(self, topics: tuple[str, ...] = ()) -> None:
        """Connect now, and learn where `topics` live, rather than on the first message to each (that
        one would wait for the metadata)."""
        producer = await self._start()
        for topic in topics:
            await producer.partitions_for(topic)

    async def _start(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all", linger_ms=0,
                                            request_timeout_ms=30_000)
                await producer.start()
                self._producer = producer
        return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
