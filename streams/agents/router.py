"""The agent on llm.requests: every event gets exactly one outcome, and no event stops the stream.

  valid request        -> LLMResponse on its reply topic + its telemetry (route, attempts, request) on llm.telemetry
  invalid request      -> DeadLetter on llm.requests.dlq, and an error LLMResponse when it has a request_id
  unexpected exception -> an error LLMResponse (internal_error); the worker keeps serving
"""

from __future__ import annotations

import asyncio
import logging

import faust
from faust.types import EventT

from streams.agents.serve import RequestServer
from streams.events import DeadLetter, ErrorInfo, InvalidRequest, LLMResponse, parse_request
from streams.topics import Topics

__all__ = ["register_router"]

log = logging.getLogger(__name__)


async def emit(topic: faust.TopicT, key: bytes | None, *values: bytes) -> None:
    """Send now and wait for the broker's acks.

    Faust would otherwise attach the message to the event being processed and publish it only
    when that event is acked, which for a concurrent agent is when the same actor receives its
    next event: on a quiet topic, never. Awaiting delivery here keeps at-least-once: the source
    offset is acked only after this returns.
    """
    pending = [await topic.send(key=key, value=value, force=True) for value in values]
    await asyncio.gather(*pending)


def register_router(app: faust.App, topics: Topics, server: RequestServer, *, concurrency: int,
                    ready: asyncio.Event | None = None) -> faust.types.AgentT:
    """`ready`: set once the cluster's state (breakers, operators' commands) has been read; nothing is served before."""
    async def reply(reply_to: str | None, key: bytes, response: LLMResponse) -> None:
        """Deliver to reply_to; if that fails, to llm.responses, so the answer is never lost."""
        try:
            await emit(await topics.reply(reply_to), key, response.to_bytes())
        except Exception as exc:  # noqa: BLE001 - any delivery failure takes the same way out
            if reply_to is None:
                raise
            log.error("cannot deliver %s to reply topic %r (%s); sending it to llm.responses",
                      response.request_id, reply_to, type(exc).__name__)
            await emit(topics.responses, key, response.to_bytes())

    async def handle(event: EventT) -> None:
        message = event.message
        raw = message.value
        try:
            request = parse_request(raw)
        except InvalidRequest as bad:
            # Metadata only: the reason and where the event sits, never its payload.
            log.warning("dead-lettered %s[%d]@%d: %s", message.topic, message.partition, message.offset, bad.reason)
            letter = DeadLetter.of(raw or b"", bad.reason, topic=message.topic, partition=message.partition,
                                   offset=message.offset, request_id=bad.request_id)
            await emit(topics.dlq, message.key, letter.to_bytes())
            if bad.request_id:
                response = LLMResponse(request_id=bad.request_id, status="error",
                                       error=ErrorInfo(code="invalid_request", message=bad.reason))
                await reply(bad.reply_to, bad.request_id.encode(), response)
            return
        key = request.request_id.encode()
        try:
            served = await server.serve(request)
        except Exception:
            log.exception("internal error serving request %s", request.request_id)
            response = LLMResponse(request_id=request.request_id, status="error",
                                   error=ErrorInfo(code="internal_error", message="the router failed; see worker logs"))
            await reply(request.reply_to, key, response)
            return
        await asyncio.gather(
            reply(request.reply_to, key, served.response),
            emit(topics.telemetry, key, *(record.to_bytes() for record in served.telemetry)),
        )

    @app.agent(topics.requests, name="route_requests", concurrency=concurrency)
    async def route_requests(stream: faust.StreamT) -> None:
        if ready is not None:
            await ready.wait()
        async for event in stream.events():
            await handle(event)

    return route_requests
