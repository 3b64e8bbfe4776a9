"""Publish LLMRequests and collect their LLMResponses on a reply topic of our own.

A private reply topic means no other client's responses are read, and correlation is by
request_id alone. Used by the demo, the CLI and the tests; ModelManager builds on it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.events import LLMRequest, LLMResponse
from streams.kafka_admin import ensure_topics
from streams.topics import REQUESTS

__all__ = ["ReplyClient", "ResponseTimeout"]


class ResponseTimeout(TimeoutError):
    def __init__(self, missing: set[str], timeout: float):
        super().__init__(f"{len(missing)} response(s) not received within {timeout:g}s")
        self.missing = missing


class ReplyClient:
    def __init__(self, bootstrap: str, *, reply_topic: str | None = None):
        self.bootstrap = bootstrap
        self.reply_topic = reply_topic or f"llm.replies.{uuid.uuid4().hex[:12]}"
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> ReplyClient:
        await ensure_topics(self.bootstrap, [self.reply_topic], partitions=1)
        self._consumer = AIOKafkaConsumer(
            self.reply_topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest",
            enable_auto_commit=False, isolation_level="read_committed", fetch_max_wait_ms=50,
        )
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=2)
        await self._consumer.start()
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._producer:
            await self._producer.stop()
        if self._consumer:
            await self._consumer.stop()

    def prepare(self, request: LLMRequest) -> LLMRequest:
        return request.model_copy(update={"reply_to": self.reply_topic})

    async def publish(self, requests: Iterable[LLMRequest]) -> list[str]:
        assert self._producer is not None, "use ReplyClient as an async context manager"
        ids, sends = [], []
        for request in requests:
            request = self.prepare(request)
            ids.append(request.request_id)
            sends.append(await self._producer.send(REQUESTS, request.to_bytes(), key=request.request_id.encode()))
        await asyncio.gather(*sends)
        return ids

    async def collect(self, request_ids: Iterable[str], *, timeout: float) -> dict[str, LLMResponse]:
        """Wait for one response per id. Raises ResponseTimeout naming how many are missing."""
        assert self._consumer is not None, "use ReplyClient as an async context manager"
        waiting = set(request_ids)
        got: dict[str, LLMResponse] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while waiting:
            left = deadline - loop.time()
            if left <= 0:
                raise ResponseTimeout(waiting, timeout)
            batch = await self._consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000))
            for messages in batch.values():
                for message in messages:
                    response = LLMResponse.model_validate_json(message.value)
                    if response.request_id in waiting:
                        waiting.discard(response.request_id)
                        got[response.request_id] = response
        return got

    async def call(self, requests: list[LLMRequest], *, timeout: float = 60.0) -> dict[str, LLMResponse]:
        ids = await self.publish(requests)
        return await self.collect(ids, timeout=timeout)
