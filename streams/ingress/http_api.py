"""The OpenAI-compatible HTTP endpoint on the worker: POST /v1/chat/completions, GET /v1/models (and,
beside them, POST /v1/embeddings: streams/ingress/embeddings_api.py, and Anthropic's POST
/v1/messages: streams/ingress/messages_api.py).

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

import json

import faust
from aiohttp import web as aioweb

from streams.client.reply_client import ReplyClient, ResponseTimeout
from streams.events import LLMRequest, LLMResponse, ToolCallFragment
from streams.events.topic_names import MAX_HTTP_BODY_BYTES
from streams.config import HugaiConfig
from streams.ingress.auth import ApiKeys
from streams.ingress.embeddings_api import register_embeddings_api
from streams.ingress.gateway import Gateway
from streams.ingress.messages_api import register_messages_api
from streams.ingress.sse_relay import relay_stream
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

HTTP_TIMEOUT_S = 120.0


class _ChatFrames:
    """ChunkFrames in the relay's terms (streams/ingress/sse_relay.py)."""

    def __init__(self, chunks: ChunkFrames, include_usage: bool):
        self._chunks, self._include_usage = chunks, include_usage

    def opening(self, first: object, model: str | None) -> list[bytes]:
        return [self._chunks.role(model)]

    def piece(self, piece: str | ToolCallFragment) -> list[bytes]:
        return [self._chunks.piece(piece)]

    def end(self, response: LLMResponse) -> list[bytes]:
        return self._chunks.end(response, include_usage=self._include_usage)

    def error(self, message: str, code: str) -> list[bytes]:
        return self._chunks.error(message, code)


def register_http_api(app: faust.App, *, bootstrap: str, keys: ApiKeys, config: HugaiConfig,
                      timeout: float = HTTP_TIMEOUT_S) -> None:
    gateway = Gateway(bootstrap)
    models = list(config.models)
    known = {name for name, spec in config.models.items() if not spec.embeds}  # what chat may pin
    register_messages_api(app, gateway=gateway, keys=keys, models=known, timeout=timeout)

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

    register_embeddings_api(app, gateway=gateway, config=config, timeout=timeout, failed=failed,
                            authorize=lambda view, request: authorize(view, request, "caller"))

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
            return await relay_stream(
                request, client, event, _ChatFrames(ChunkFrames(event.request_id, model), include_usage), timeout=timeout,
                timed_out=lambda: refuse(self, 504, f"no response within {timeout:g}s", code="timeout"),
                failed=lambda response: failed(self, response))

    @app.page("/v1/models")
    class Models(faust.web.View):
        async def get(self, request: aioweb.Request) -> faust.web.Response:
            if (denied := authorize(self, request, "caller")) is not None:
                return denied
            return self.json({"object": "list", "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "hugai-llm"} for name in [AUTO, *models]]})
