"""The agent on llm.requests: every event gets exactly one outcome, and no event stops the stream.

  valid request        -> LLMResponse on its reply topic + its telemetry (route, attempts, request) as
                          one RequestServed on llm.telemetry + its budget settlements on llm.budget-settlements
                          + its answer as a CacheEntry, when identical requests to come may share it
  request on another   -> the same request, moved to the partition of its question key, when answers
  partition than its      are shared (streams/events/request_keys.py): served there, with the
  question key's          requests identical to it
  invalid request      -> DeadLetter on llm.requests.dlq, and an error LLMResponse when it has a request_id
  unexpected exception -> an error LLMResponse (internal_error); the worker keeps serving

An event's outputs are published in one transaction with its "answered" marker (streams/kafka/outbox.py),
so an event redelivered after a crash or a rebalance is answered, and its spend counted, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import faust
from faust.types import EventT

from streams.agents.serve import RequestServer
from streams.agents.streaming import DeltaRelay, Send
from streams.events import DeadLetter, ErrorInfo, InvalidRequest, LLMResponse, RequestServed, parse_request
from streams.events.request_keys import question_key, question_partition
from streams.events.topic_names import (
    CACHE_ENTRIES,
    DLQ,
    IDEMPOTENCY_ENTRIES,
    REQUESTS,
    RESPONSES,
    SETTLEMENTS,
    TELEMETRY,
)
from streams.kafka.outbox import Output, TransactionalOutbox
from streams.kafka.topics import Topics

__all__ = ["register_router"]

log = logging.getLogger(__name__)

# About Kafka's default limit on one record (broker message.max.bytes, producer max_request_size).
# A transaction holding a larger record can never commit, and every answer after it on the same
# partition would wait for it: what would be larger is cut down before it is published.
MAX_RECORD_BYTES = 1_000_000


def register_router(app: faust.App, topics: Topics, server: RequestServer, outbox: TransactionalOutbox, *,
                    concurrency: int, ready: asyncio.Event | None = None, send_piece: Send | None = None,
                    partition_count: Callable[[], Awaitable[int]] | None = None) -> faust.types.AgentT:
    """`ready`: set once the cluster's state (breakers, operators' commands) has been read; nothing is served before.
    `send_piece`: publishes a streamed request's pieces (StreamDelta) outside the transaction, so the caller
    sees them while the call runs; without it, a streamed request is answered whole.
    `partition_count`: how many partitions llm.requests has, to find a request's home partition; without
    it, requests are served where they are."""
    async def reply_to(name: str | None) -> str:
        """The request's reply topic, created if need be; llm.responses when it cannot be, so no answer is lost."""
        try:
            return await topics.reply_name(name)
        except Exception as exc:  # noqa: BLE001 - any failure to create it takes the same way out
            if name is None:
                raise
            log.error("cannot create reply topic %r (%s); answering on %s", name, type(exc).__name__, RESPONSES)
            return RESPONSES

    async def outputs_of(message: faust.types.Message) -> list[Output]:
        raw = message.value
        try:
            request = parse_request(raw)
        except InvalidRequest as bad:
            # Metadata only: the reason and where the event sits, never its payload.
            log.warning("dead-lettered %s[%d]@%d: %s", message.topic, message.partition, message.offset, bad.reason)
            letter = DeadLetter.of(raw or b"", bad.reason, topic=message.topic, partition=message.partition,
                                   offset=message.offset, request_id=bad.request_id).to_bytes()
            if len(letter) > MAX_RECORD_BYTES:  # the original stays where it is, for the topic's retention
                letter = DeadLetter.of(b"", f"{bad.reason} (too large to copy into the letter: the {len(raw)} bytes "
                                       f"stay in {message.topic}[{message.partition}]@{message.offset})",
                                       topic=message.topic, partition=message.partition, offset=message.offset,
                                       request_id=bad.request_id).to_bytes()
            outputs: list[Output] = [(DLQ, message.key, letter)]
            if bad.request_id:
                response = LLMResponse(request_id=bad.request_id, status="error",
                                       error=ErrorInfo(code="invalid_request", message=bad.reason))
                outputs.append((await reply_to(bad.reply_to), bad.request_id.encode(), response.to_bytes()))
            return outputs
        if partition_count is not None and server.shares_answers:
            home = question_partition(request, await partition_count())
            if home != message.partition:  # published under another key: it would not meet its identical requests
                log.debug("moving %s from partition %d to %d", request.request_id, message.partition, home)
                return [(REQUESTS, question_key(request), raw)]
        key = request.request_id.encode()
        try:
            relay = None
            if request.stream and send_piece is not None:
                relay = DeltaRelay(send_piece, topic=await reply_to(request.reply_to), request_id=request.request_id)
            served = await server.serve(request, relay, partition=message.partition)
        except Exception:
            log.exception("internal error serving request %s", request.request_id)
            response = LLMResponse(request_id=request.request_id, status="error",
                                   error=ErrorInfo(code="internal_error", message="the router failed; see worker logs"))
            return [(await reply_to(request.reply_to), key, response.to_bytes())]
        answer = served.response.to_bytes()
        if len(answer) > MAX_RECORD_BYTES:
            log.error("the answer to %s is %d bytes, more than a Kafka record may hold", request.request_id, len(answer))
            answer = LLMResponse(request_id=request.request_id, status="error", error=ErrorInfo(
                code="response_too_large", message=f"the answer was {len(answer)} bytes; a Kafka record holds "
                                                   f"{MAX_RECORD_BYTES}")).to_bytes()
        outputs = [(await reply_to(request.reply_to), key, answer),
                   *([(TELEMETRY, key, RequestServed.encode(served.telemetry))] if served.telemetry else []),
                   *((SETTLEMENTS, key, settlement.to_bytes()) for settlement in served.settlements)]
        if served.shared is not None:
            entry = served.shared.to_bytes()
            if len(entry) <= MAX_RECORD_BYTES:  # else not kept for later: the requests waiting now had it
                topic = IDEMPOTENCY_ENTRIES if served.shared_idempotently else CACHE_ENTRIES
                outputs.append((topic, served.shared.key.encode(), entry))
        return outputs

    async def handle(event: EventT) -> None:
        message = event.message
        if not await outbox.claim(message.partition, message.offset):
            return  # answered before a crash or a rebalance, or the partition has moved on
        try:
            outputs = await outputs_of(message)
        except BaseException:
            outbox.release(message.partition, message.offset)
            raise
        if not await outbox.publish(message.partition, message.offset, outputs):
            log.info("%s[%d]@%d: the partition moved to another worker before this answer was committed; "
                     "its new owner answers", message.topic, message.partition, message.offset)

    @app.agent(topics.requests, name="route_requests", concurrency=concurrency)
    async def route_requests(stream: faust.StreamT) -> None:
        if ready is not None:
            await ready.wait()
        async for event in stream.events():
            await handle(event)

    return route_requests
