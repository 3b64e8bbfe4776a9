"""Anthropic's Messages API on the worker: POST /v1/messages, a second front door beside chat completions.

The official anthropic SDK works against it with only base_url changed. Its key goes in `x-api-key`
(or `Authorization: Bearer`); our caller keys are accepted in either. The request is routed like any
other (streams/ingress/anthropic_format.py), so it may be served by any family's model, and errors
come back in Anthropic's shape and statuses. With "stream": true, Anthropic's event stream.
"""

from __future__ import annotations

import json

import faust
from aiohttp import web as aioweb

from streams.client.reply_client import ReplyClient, ResponseTimeout
from streams.events import LLMRequest, LLMResponse
from streams.events.topic_names import MAX_HTTP_BODY_BYTES
from streams.ingress.anthropic_format import (
    BadMessagesRequest,
    MessageEvents,
    error_body,
    message_body,
    status_for,
    to_llm_request,
)
from streams.ingress.auth import ApiKeys
from streams.ingress.gateway import Gateway
from streams.ingress.sse_relay import relay_stream

__all__ = ["register_messages_api"]


def register_messages_api(app: faust.App, *, gateway: Gateway, keys: ApiKeys, models: set[str], timeout: float) -> None:
    def refuse(view: faust.web.View, status: int, message: str) -> faust.web.Response:
        return view.json(error_body(status, message), status=status)

    def failed(view: faust.web.View, response: LLMResponse) -> faust.web.Response:
        code = response.error.code if response.error else response.status
        return refuse(view, status_for(code), response.error.message if response.error else response.status)

    def authorize(view: faust.web.View, request: aioweb.Request) -> faust.web.Response | None:
        header = request.headers.get("Authorization")
        if header is None and request.headers.get("x-api-key"):
            header = f"Bearer {request.headers['x-api-key']}"
        principal = keys.authenticate(header)
        if principal is None:
            hint = "" if len(keys) else " (this worker has no API keys configured: set HUGAI_CALLER_KEY)"
            return refuse(view, 401, f"missing or unknown API key; send 'x-api-key: <key>'{hint}")
        if not principal.may("caller"):
            return refuse(view, 403, f"key {principal.name!r} lacks the caller role")
        return None

    @app.page("/v1/messages")
    class Messages(faust.web.View):
        async def post(self, request: aioweb.Request) -> faust.web.Response:
            if (denied := authorize(self, request)) is not None:
                return denied
            try:
                body = json.loads(await request.read() or b"null")
                event, stream = to_llm_request(body, task_header=request.headers.get("X-Task-Type"), models=models)
            except aioweb.HTTPRequestEntityTooLarge:
                return refuse(self, 413, f"the body is over the {MAX_HTTP_BODY_BYTES} byte limit (images are 5 MiB "
                              "each at most)")
            except json.JSONDecodeError as exc:
                return refuse(self, 400, f"the body is not JSON: {exc}")
            except BadMessagesRequest as exc:
                return refuse(self, 400, str(exc))
            client = await gateway.client()
            if stream:
                return await self.stream(request, client, event, str(body["model"]))
            try:
                response = await client.call_one(event, timeout=timeout)
            except ResponseTimeout:
                return refuse(self, 504, f"no response within {timeout:g}s")
            if response.status != "ok":
                return failed(self, response)
            return self.json(message_body(response))

        async def stream(self, request: aioweb.Request, client: ReplyClient, event: LLMRequest,
                         model: str) -> faust.web.Response | aioweb.StreamResponse:
            return await relay_stream(
                request, client, event, MessageEvents(event.request_id, model), timeout=timeout,
                timed_out=lambda: refuse(self, 504, f"no response within {timeout:g}s"),
                failed=lambda response: failed(self, response))
