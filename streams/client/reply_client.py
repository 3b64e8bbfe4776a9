"""Publish LLMRequests and await their LLMResponses on a reply topic of this client's own.

A private reply topic means no other client's responses are read. One background task reads
it and resolves the future waiting for each request_id, so any number of concurrent calls
share one consumer. Responses that arrive after their caller gave up are dropped.

stream() asks for a streamed answer: the StreamDelta events on the reply topic are handed to
its caller as they arrive (streams/client/stream_follow.py), then the LLMResponse. A caller that
stops reading early has a StreamCancel published, which stops the provider call.
Requests are keyed by their question key, so identical ones meet on one worker
(streams/events/request_keys.py). Used by ModelManager, the CLI, the demo, the HTTP ingress and the tests.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from streams.client.stream_follow import Piece, StreamFollower
from streams.events import LLMRequest, LLMResponse, StreamCancel, StreamDelta
from streams.events.request_keys import question_key
from streams.events.topic_names import MAX_ANSWER_BYTES, MAX_REQUEST_BATCH_BYTES, REQUESTS, STREAM_CANCELS
from streams.kafka.admin import ensure_topics
from streams.kafka.broadcast import IDLE_FETCH_WAIT_MS

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
        self._streams: dict[str, asyncio.Queue[StreamDelta | LLMResponse]] = {}

    async def start(self) -> ReplyClient:
        # Sized for whole answers, embeddings' vectors included (the worker's producers send that much).
        await ensure_topics(self.bootstrap, [self.reply_topic], partitions=1,
                            configs={"max.message.bytes": str(MAX_ANSWER_BYTES)})
        self._consumer = AIOKafkaConsumer(
            self.reply_topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest",
            enable_auto_commit=False, isolation_level="read_committed", fetch_max_wait_ms=IDLE_FETCH_WAIT_MS,
        )
        # acks=all: a request counts as sent once min.insync.replicas brokers hold it, so losing the
        # leader right after cannot lose it (aiokafka's default, 1, waits for the leader alone).
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=1, acks="all",
                                          max_request_size=MAX_REQUEST_BATCH_BYTES)  # requests may carry images
        try:
            await self._consumer.start()
            await self._producer.start()
        except BaseException:
            # A half-started client keeps aiokafka's background tasks alive, and an event loop
            # closing around them can hang on their cancellation; never leave one behind.
            await self.stop()
            raise
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
                if b'"stream_delta"' in (message.value or b""):
                    delta = StreamDelta.model_validate_json(message.value)
                    if (queue := self._streams.get(delta.request_id)) is not None:
                        queue.put_nowait(delta)
                    continue
                response = LLMResponse.model_validate_json(message.value)
            except ValidationError:
                log.warning("unreadable message on %s@%d skipped", self.reply_topic, message.offset)
                continue
            if (queue := self._streams.get(response.request_id)) is not None:
                queue.put_nowait(response)
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
            sends.append(await self._producer.send(REQUESTS, request.to_bytes(), key=question_key(request)))
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

    async def stream(self, request: LLMRequest, *, timeout: float,
                     follower: StreamFollower | None = None) -> AsyncIterator[Piece | LLMResponse]:
        """Ask for a streamed answer: yield its text and tool-call fragments (ToolCallFragment) as they
        arrive, then its LLMResponse (whatever its
        status). `timeout` bounds the wait for each next piece. Leaving early (break, aclose, a
        cancelled task) publishes a StreamCancel, so the provider call stops and what it produced is
        billed. Pass a `follower` to read what it learns on the way (the answering model, from the
        first piece)."""
        assert self._producer is not None, "start the ReplyClient first (or use it as an async context manager)"
        request = self.prepare(request).model_copy(update={"stream": True})
        queue: asyncio.Queue[StreamDelta | LLMResponse] = asyncio.Queue()
        self._streams[request.request_id] = queue
        follower, answered = follower or StreamFollower(), False
        try:
            await self._producer.send_and_wait(REQUESTS, request.to_bytes(), key=question_key(request))
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    raise ResponseTimeout({request.request_id}, timeout) from None
                if isinstance(event, StreamDelta):
                    if (piece := follower.delta(event)) is not None:
                        yield piece
                    continue
                answered = True
                for piece in follower.answer(event):
                    yield piece
                yield event
                return
        finally:
            self._streams.pop(request.request_id, None)
            if not answered:
                await asyncio.shield(self.cancel(request.request_id))

    async def cancel(self, request_id: str, reason: str = "the caller stopped reading") -> None:
        """Tell the worker serving `request_id` to stop its stream. Best effort: a lost cancel costs
        the rest of that one answer, nothing else."""
        if self._producer is None:
            return
        try:
            await self._producer.send_and_wait(STREAM_CANCELS, StreamCancel(request_id=request_id, reason=reason).to_bytes(),
                                               key=request_id.encode())
        except Exception as exc:  # noqa: BLE001 - see above
            log.warning("could not publish the cancel of %s: %s", request_id, type(exc).__name__)
