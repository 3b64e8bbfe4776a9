"""OpenAI's embeddings API on the worker: POST /v1/embeddings, routed like chat (task type `embeddings`).

The official openai SDK works against it with only base_url changed. `input` is a string or a list of
strings (token arrays are refused by name), `model` an embedding model of the catalog or "auto",
`dimensions` is passed on, and `encoding_format` is "float" or "base64" (little-endian float32, what
the SDK asks for by default and decodes). The answer's `model` names the model whose vector space the
vectors are in: with "auto", a fallback may answer from another model's space.
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
from collections.abc import Callable
from typing import Any

import faust
from aiohttp import web as aioweb

from streams.client.reply_client import ResponseTimeout
from streams.config import HugaiConfig
from streams.events import LLMRequest, LLMResponse
from streams.ingress.gateway import Gateway
from streams.ingress.openai_format import AUTO, error_body
from streams.ingress.request_fields import InvalidFields, request_from

__all__ = ["register_embeddings_api", "EMBEDDINGS_TASK", "embedding_request", "embeddings_body"]

EMBEDDINGS_TASK = "embeddings"
_KNOWN = {"input", "model", "dimensions", "encoding_format", "user"}


class BadEmbeddingsRequest(ValueError):
    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


def embedding_request(body: object, *, task_header: str | None, config: HugaiConfig) -> tuple[LLMRequest, str]:
    """(the request event, the encoding the caller wants)."""
    if not isinstance(body, dict):
        raise BadEmbeddingsRequest("the body must be a JSON object")
    for name in body:
        if name not in _KNOWN:
            raise BadEmbeddingsRequest(f"{name}: not supported by this router", name)
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise BadEmbeddingsRequest("input: a string or a list of strings (token arrays are not carried)", "input")
    if not texts:
        raise BadEmbeddingsRequest("input: the list is empty; give at least one text", "input")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadEmbeddingsRequest("model: an embedding model's id, or \"auto\"", "model")
    if model != AUTO and (model not in config.models or not config.models[model].embeds):
        raise BadEmbeddingsRequest(f"model: {model!r} is not an embedding model; GET /v1/models lists them", "model")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise BadEmbeddingsRequest(f"encoding_format: {encoding!r} is not float or base64", "encoding_format")
    if model != AUTO and (limit := config.models[model].max_inputs) and len(texts) > limit:
        raise BadEmbeddingsRequest(f"input: {len(texts)} texts, and {model} takes at most {limit} in one call", "input")
    fields: dict[str, Any] = {"request_id": f"http-{uuid.uuid4().hex}", "task_type": task_header or EMBEDDINGS_TASK,
                              "input": texts, "dimensions": body.get("dimensions")}
    if body.get("user"):
        fields["metadata"] = {"user": body["user"]}
    if model != AUTO:
        fields |= {"preferred_model": model, "fallback_models": [model]}
    try:
        return request_from(fields), encoding
    except InvalidFields as exc:
        raise BadEmbeddingsRequest(str(exc), exc.param) from None


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def embeddings_body(response: LLMResponse, encoding: str) -> dict[str, Any]:
    tokens = response.usage.input_tokens
    return {"object": "list", "model": response.model or "",
            "data": [{"object": "embedding", "index": i, "embedding": _encoded(v, encoding)}
                     for i, v in enumerate(response.embeddings)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def register_embeddings_api(app: faust.App, *, gateway: Gateway, config: HugaiConfig, timeout: float,
                            authorize: Callable[[faust.web.View, aioweb.Request], faust.web.Response | None],
                            failed: Callable[[faust.web.View, LLMResponse], faust.web.Response]) -> None:
    """`authorize` and `failed`: the chat endpoint's, so both answer keys and failures alike."""
    def refuse(view: faust.web.View, status: int, message: str, *, code: str, param: str | None = None) -> faust.web.Response:
        return view.json(error_body(status, message, code=code, param=param), status=status)

    @app.page("/v1/embeddings")
    class Embeddings(faust.web.View):
        async def post(self, request: aioweb.Request) -> faust.web.Response:
            if (denied := authorize(self, request)) is not None:
                return denied
            try:
                body = json.loads(await request.read() or b"null")
                event, encoding = embedding_request(body, task_header=request.headers.get("X-Task-Type"), config=config)
            except json.JSONDecodeError as exc:
                return refuse(self, 400, f"the body is not JSON: {exc}", code="invalid_json")
            except BadEmbeddingsRequest as exc:
                return refuse(self, 400, str(exc), code="invalid_request", param=exc.param)
            try:
                response = await (await gateway.client()).call_one(event, timeout=timeout)
            except ResponseTimeout:
                return refuse(self, 504, f"no response within {timeout:g}s", code="timeout")
            if response.status != "ok":
                return failed(self, response)
            return self.json(embeddings_body(response, encoding))
