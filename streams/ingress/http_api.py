"""The OpenAI-compatible HTTP endpoint on the worker: POST /v1/chat/completions, GET /v1/models.

Each HTTP request becomes an LLMRequest on llm.requests like any other, answered through this
worker's own reply topic, so HTTP and Kafka callers get the same routing and records. The
official openai SDK works against it with only base_url changed.

With "stream": true the request is streamed: each piece the provider produces reaches the caller
as a content chunk while the call runs, then the finish chunk, the usage chunk if asked for
(stream_options.include_usage: the provider's usage, or the counted one), and [DONE]. A failure
before the first piece is an HTTP error as without streaming; after it, an error frame. A caller
that hangs up stops the provider call (StreamCancel), and what it produced is billed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from contextlib import aclosing

import faust
from aiohttp import web as aioweb

from streams.client.reply_client import ReplyClient, ResponseTimeout
from streams.client.stream_follow import StreamDiverged
from streams.events import LLMRequest, LLMResponse
from streams.events.topic_names import MAX_HTTP_BODY_BYTES
from streams.ingress.auth import ApiKeys
from streams.ingress.openai_format import (
    AUTO,
    BadChatRequest,
    ChunkFrames,
    UnsupportedParameter,
    completion_body,
    error_body,
    status_for,
    to_llm_request,
)

__all__ = ["register_http_api", "HTTP_TIMEOUT_S"]

log = logging.getLogger(__name__)
HTTP_TIMEOUT_S = 120.0


class _Gateway:
    """This worker's reply client, started on first use on the worker's own loop."""

    def __init__(self, bootstrap: str):
        self._bootstrap = bootstrap
        self._client: ReplyClient | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> ReplyClient:
        async with self._lock:
            if self._client is None:
                self._client = await ReplyClient(self._bootstrap, reply_topic=f"llm.replies.http.{uuid.uuid4().hex[:12]}").start()
        return self._client

    async def close(self) -> None:
        async with self._lock:
            if self._client is not None:
                await self._client.stop()
                self._client = None


def register_http_api(app: faust.App, *, bootstrap: str, keys: ApiKeys, models: list[str],
                      timeout: float = HTTP_TIMEOUT_S) -> None:
    gateway = _Gateway(bootstrap)
    known = set(models)

    @app.on_before_shutdown.connect
    async def _close_gateway(sender: faust.App, **_: object) -> None:
        await gateway.close()

    def refuse(view: faust.web.View, status: int, message: str, *, code: str | None = None,
               param: str | None = None) -> faust.web.Response:
        return view.json(error_body(status, message, code=code, param=param), status=status)

    def failed(view: faust.web.View, response: LLMResponse) -> faust.web.Response:
        code = response.error.code if response.error else response.status
        message = response.error.message if response.error else response.status
        return refuse(view, status_for(code), message, code=code)

    def authorize(view: faust.web.View, request: aioweb.Request, role: str) -> faust.web.Response | None:
        principal = keys.authenticate(request.headers.get("Authorization"))
        if principal is None:
            hint = "" if len(keys) else " (this worker has no API keys configured: set HUGAI_CALLER_KEY)"
            return refuse(view, 401, f"missing or unknown API key; send 'Authorization: Bearer <key>'{hint}",
                          code="invalid_api_key")
        if not principal.may(role):
            return refuse(view, 403, f"key {principal.name!r} lacks the {role} role", code="insufficient_role")
        return None

    @app.page("/v1/chat/completions")
    class ChatCompletions(faust.web.View):
        async def post(self, request: aioweb.Request) -> faust.web.Response:
            if (denied := authorize(self, request, "caller")) is not None:
                return denied
            try:
                body = json.loads(await request.read() or b"null")
                event, stream = to_llm_request(body, task_header=request.headers.get("X-Task-Type"), models=known)
            except aioweb.HTTPRequestEntityTooLarge:
                return refuse(self, 413, f"the body is over the {MAX_HTTP_BODY_BYTES} byte limit (images are "
                              f"5 MiB each at most)", code="request_too_large")
            except json.JSONDecodeError as exc:
                return refuse(self, 400, f"the body is not JSON: {exc}", code="invalid_json")
            except UnsupportedParameter as exc:
                return refuse(self, 400, str(exc), code="unsupported_parameter", param=exc.param)
            except BadChatRequest as exc:
                return refuse(self, 400, str(exc), code="invalid_request", param=exc.param)
            client = await gateway.client()
            if stream:
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return await self.stream(request, client, event, str(body["model"]), include_usage)
            try:
                response = await client.call_one(event, timeout=timeout)
            except ResponseTimeout:
                return refuse(self, 504, f"no response within {timeout:g}s", code="timeout")
            if response.status != "ok":
                return failed(self, response)
            return self.json(completion_body(response))

        async def stream(self, request: aioweb.Request, client: ReplyClient, event: LLMRequest, model: str,
                         include_usage: bool) -> faust.web.Response | aioweb.StreamResponse:
            async with aclosing(client.stream(event, timeout=timeout)) as events:  # closing early sends the cancel
                try:
                    item = await anext(events)
                except ResponseTimeout:
                    return refuse(self, 504, f"no response within {timeout:g}s", code="timeout")
                if isinstance(item, LLMResponse) and item.status != "ok":
                    return failed(self, item)  # nothing streamed yet: an HTTP error, as without streaming
                sse = aioweb.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
                await sse.prepare(request)
                frames = ChunkFrames(event.request_id, model)
                try:
                    await sse.write(frames.role())
                    while not isinstance(item, LLMResponse):
                        await sse.write(frames.piece(item))
                        item = await anext(events)
                    if item.status == "ok":
                        ending = frames.end(item, include_usage=include_usage)
                    else:
                        error = item.error
                        ending = frames.error(error.message if error else item.status, error.code if error else item.status)
                except ResponseTimeout:
                    ending = frames.error(f"no stream event within {timeout:g}s", "timeout")
                except StreamDiverged as exc:
                    ending = frames.error(str(exc), "stream_diverged")
                except ConnectionError:  # the caller hung up: leaving the block cancels the call
                    log.info("the caller of %s hung up mid-stream", event.request_id)
                    return sse
                for frame in ending:
                    await sse.write(frame)
                await sse.write_eof()
                return sse

    @app.page("/v1/models")
    class Models(faust.web.View):
        async def get(self, request: aioweb.Request) -> faust.web.Response:
            if (denied := authorize(self, request, "caller")) is not None:
                return denied
            return self.json({"object": "list", "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "hugai-llm"} for name in [AUTO, *models]]})
