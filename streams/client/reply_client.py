"""Publish LLMRequests and await their LLMResponses on a reply topic of this client's own.

A private reply topic means no other client's responses are read. One background task reads
it and resolves the future waiting for each request_id, so any number of concurrent calls
share one consumer. Responses that arrive after their caller gave up are dropped.
Used by ModelManager, the CLI, the demo, the HTTP ingress and the tests.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from streams.events import LLMRequest, LLMResponse
from streams.events.topic_names import REQUESTS
from streams.kafka.admin import ensure_topics

__all__ = ["ReplyClient", "ResponseTimeout"]

log = logging.getLogger(__name__)


class ResponseTimeout(TimeoutError):
    """No response within the deadline. `missing` holds the request ids still unanswered."""

    def __init__(self, missing: set[str], timeout: float):
        ids = ", ".join(sorted(missing)[:3]) + (" …" if len(missing) > 3 else "")
        super().__init__(f"{len(missing)} response(s) not received within {timeout:g}s ({ids})")
        self.missing = missing
        self.timeout = timeout


class ReplyClient:
    def __init__(self, bootstrap: str, *, reply_topic: str | None = None):
        self.bootstrap = bootstrap
        self.reply_topic = reply_topic or f"llm.replies.{uuid.uuid4().hex[:12]}"
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: asyncio.Task | None = None
        self._waiting: dict[str, asyncio.Future[LLMResponse]] = {}

    async def start(self) -> ReplyClient:
        await ensure_topics(self.bootstrap, [self.reply_topic], partitions=1)
        self._consumer = AIOKafkaConsumer(
            self.reply_topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest",
            enable_auto_commit=False, isolation_level="read_committed", fetch_max_wait_ms=20,
        )
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=1)
        await self._consumer.start()
        await self._producer.start()
        self._reader = asyncio.create_task(self._read())
        return self

    async def stop(self) -> None:
        if self._reader:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._producer:
            await self._producer.stop()
        if self._consumer:
            await self._consumer.stop()
        for future in self._waiting.values():
            future.cancel()

    async def __aenter__(self) -> ReplyClient:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _read(self) -> None:
        assert self._consumer is not None
        async for message in self._consumer:
            try:
                response = LLMResponse.model_validate_json(message.value)
            except ValidationError:
                log.warning("unreadable message on %s@%d skipped", self.reply_topic, message.offset)
                continue
            future = self._waiting.pop(response.request_id, None)
            if future is not None and not future.done():
                future.set_result(response)

    def prepare(self, request: LLMRequest) -> LLMRequest:
        return request.model_copy(update={"reply_to": self.reply_topic})

    async def publish(self, requests: Iterable[LLMRequest]) -> dict[str, asyncio.Future[LLMResponse]]:
        """Send requests; return a future per request_id that resolves with its response."""
        assert self._producer is not None, "start the ReplyClient first (or use it as an async context manager)"
        loop = asyncio.get_running_loop()
        futures, sends = {}, []
        for request in requests:
            request = self.prepare(request)
            futures[request.request_id] = self._waiting[request.request_id] = loop.create_future()
            sends.append(await self._producer.send(REQUESTS, request.to_bytes(), key=request.request_id.encode()))
        await asyncio.gather(*sends)
        return futures

    async def call(self, requests: list[LLMRequest], *, timeout: float = 60.0) -> dict[str, LLMResponse]:
        """Send requests and wait for all their responses, or raise ResponseTimeout naming the missing ones."""
        futures = await self.publish(requests)
        done, pending = await asyncio.wait(futures.values(), timeout=timeout)
        if pending:
            missing = {rid for rid, f in futures.items() if f in pending}
            for rid in missing:
                self._waiting.pop(rid, None)
                futures[rid].cancel()
            raise ResponseTimeout(missing, timeout)
        return {rid: f.result() for rid, f in futures.items()}

    async def call_one(self, request: LLMRequest, *, timeout: float) -> LLMResponse:
        return (await self.call([request], timeout=timeout))[request.request_id]
