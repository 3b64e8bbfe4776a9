"""Anthropic Messages API: system prompt apart from the messages, a version header, max_tokens required."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from providers.errors import BadRequest, ContentRefused, ProviderUnavailable
from providers.http import post_json, post_stream, request_json
from providers.keys import KeySource, key_source
from providers.sse import sse_events
from providers.streaming import StreamAccumulator, cut_short
from providers.types import BatchJob, ChatRequest, ChatResult, StreamChunk, Usage

__all__ = ["PROVIDER_TYPE", "ANTHROPIC_VERSION", "AnthropicProvider", "parse_message"]

PROVIDER_TYPE = "anthropic"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024


def _usage(usage: dict) -> Usage:
    cached = int(usage.get("cache_read_input_tokens") or 0)
    created = int(usage.get("cache_creation_input_tokens") or 0)
    # Anthropic's input_tokens excludes cache reads and writes; ours counts every input token.
    return Usage(
        input_tokens=int(usage.get("input_tokens") or 0) + cached + created,
        output_tokens=int(usage.get("output_tokens") or 0),
        cached_input_tokens=cached,
    )


def parse_message(body: dict, elapsed_ms: float) -> ChatResult:
    try:
        if body.get("stop_reason") == "refusal":
            raise ContentRefused("anthropic refused the request", provider=PROVIDER_TYPE)
        text = "".join(block.get("text", "") for block in body["content"] if block.get("type") == "text")
        return ChatResult(
            content=text,
            usage=_usage(body.get("usage") or {}),
            ttft_ms=elapsed_ms,
            total_ms=elapsed_ms,
            response_model=body.get("model", ""),
            finish_reason=body.get("stop_reason"),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadRequest(f"unreadable message from anthropic: {type(exc).__name__}: {exc}", provider=PROVIDER_TYPE) from None


class AnthropicProvider:
    provider_type = PROVIDER_TYPE

    def __init__(self, *, client: httpx.AsyncClient, base_url: str, api_key: str | KeySource,
                 default_max_tokens: int = DEFAULT_MAX_TOKENS):
        self._client = client
        self._base = base_url.rstrip("/")
        self._url = self._base + "/v1/messages"
        self._key = key_source(api_key)
        self._default_max_tokens = default_max_tokens

    @property
    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self._key() or "", "anthropic-version": ANTHROPIC_VERSION}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r})"

    def request_body(self, request: ChatRequest, *, stream: bool = False) -> dict:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        body: dict = {
            "model": request.model,
            "max_tokens": request.max_tokens or self._default_max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"],
        }
        if system:
            body["system"] = system
        if request.temperature is not None:
            body["temperature"] = min(request.temperature, 1.0)  # Anthropic's range is 0..1
        if stream:
            body["stream"] = True
        return body

    async def infer(self, request: ChatRequest) -> ChatResult:
        body, elapsed_ms = await post_json(self._client, self._url, self.request_body(request),
                                           headers=self._headers, provider=PROVIDER_TYPE)
        return parse_message(body, elapsed_ms)

    async def infer_stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        acc = StreamAccumulator(request)
        start_usage: dict = {}
        stopped = False
        async with post_stream(self._client, self._url, self.request_body(request, stream=True),
                               headers=self._headers, provider=PROVIDER_TYPE) as response:
            async for event in sse_events(response):
                try:
                    data = json.loads(event.data)
                except ValueError:
                    raise BadRequest("anthropic sent a stream event that is not JSON", provider=PROVIDER_TYPE) from None
                kind = data.get("type")
                if kind == "message_start":
                    message = data.get("message") or {}
                    acc.response_model = message.get("model", "")
                    start_usage = message.get("usage") or {}  # input tokens arrive here
                elif kind == "content_block_delta":
                    if piece := acc.text((data.get("delta") or {}).get("text") or ""):
                        yield piece
                elif kind == "message_delta":
                    # The final output count arrives here; input counts stay from message_start.
                    acc.finish_reason = (data.get("delta") or {}).get("stop_reason")
                    acc.usage = _usage({**start_usage, **(data.get("usage") or {})})
                elif kind == "message_stop":
                    stopped = True
                elif kind == "error":
                    error = data.get("error") or {}
                    raise ProviderUnavailable(error.get("message") or "stream error", provider=PROVIDER_TYPE)
            if not stopped:
                raise cut_short(PROVIDER_TYPE, "message_stop")
        yield acc.finish()

    async def submit_batch(self, requests: list[tuple[str, ChatRequest]]) -> BatchJob:
        """Anthropic's Message Batches API."""
        body = {"requests": [{"custom_id": custom_id, "params": self.request_body(request)} for custom_id, request in requests]}
        batch, _ = await post_json(self._client, self._url + "/batches", body, headers=self._headers, provider=PROVIDER_TYPE)
        return _anthropic_batch(batch)

    async def batch_status(self, batch_id: str) -> BatchJob:
        batch, _ = await request_json(self._client, "GET", f"{self._url}/batches/{batch_id}", headers=self._headers,
                                      provider=PROVIDER_TYPE)
        return _anthropic_batch(batch)


def _anthropic_batch(batch: dict) -> BatchJob:
    counts = batch.get("request_counts") or {}
    return BatchJob(provider=PROVIDER_TYPE, id=batch["id"], status=batch["processing_status"],
                    request_counts={k: int(v) for k, v in counts.items()})
