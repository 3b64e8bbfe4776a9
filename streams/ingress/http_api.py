"""The OpenAI-compatible HTTP endpoint on the worker: POST /v1/chat/completions, GET /v1/models.

Each HTTP request becomes an LLMRequest on llm.requests like any other, answered through this
worker's own reply topic, so HTTP and Kafka callers get the same routing and records. The
official openai SDK works against it with only base_url changed.

The router answers whole responses, so a streamed answer arrives as one content chunk
(after the role chunk), then the finish chunk, the usage chunk if asked for, and [DONE].
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import faust
from aiohttp import web as aioweb

from streams.client.reply_client import ReplyClient, ResponseTimeout
from streams.ingress.auth import ApiKeys
from streams.ingress.openai_format import (
    AUTO,
    BadChatRequest,
    completion_body,
    error_body,
    status_for,
    stream_chunks,
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
            except json.JSONDecodeError as exc:
                return refuse(self, 400, f"the body is not JSON: {exc}", code="invalid_json")
            except BadChatRequest as exc:
                return refuse(self, 400, str(exc), code="invalid_request", param=exc.param)
            client = await gateway.client()
            try:
                response = await client.call_one(event, timeout=timeout)
            except ResponseTimeout:
                return refuse(self, 504, f"no response within {timeout:g}s", code="timeout")
            if response.status != "ok":
                code = response.error.code if response.error else response.status
                message = response.error.message if response.error else response.status
                return refuse(self, status_for(code), message, code=code)
            if not stream:
                return self.json(completion_body(response))
            include_usage = bool(((body.get("stream_options") or {}) if isinstance(body, dict) else {}).get("include_usage"))
            sse = aioweb.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
            await sse.prepare(request)
            for frame in stream_chunks(response, include_usage=include_usage):
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
