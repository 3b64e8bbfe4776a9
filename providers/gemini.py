"""Google Gemini generateContent and streamGenerateContent (SSE). The key goes in a header, not the URL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from providers.errors import BadRequest, ContentRefused
from providers.http import post_json, post_stream
from providers.keys import KeySource, key_source
from providers.sse import sse_events
from providers.streaming import StreamAccumulator, cut_short
from providers.types import ChatRequest, ChatResult, StreamChunk, Usage

__all__ = ["PROVIDER_TYPE", "GeminiProvider", "parse_generate_content"]

PROVIDER_TYPE = "google"
_BLOCKED = {"SAFETY", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "RECITATION"}


def _usage(meta: dict | None) -> Usage | None:
    if not meta:
        return None
    return Usage(
        input_tokens=int(meta.get("promptTokenCount") or 0),
        # Thinking tokens are billed as output.
        output_tokens=int(meta.get("candidatesTokenCount") or 0) + int(meta.get("thoughtsTokenCount") or 0),
        cached_input_tokens=int(meta.get("cachedContentTokenCount") or 0),
    )


def _text_and_finish(body: dict) -> tuple[str, str | None]:
    feedback = body.get("promptFeedback") or {}
    if feedback.get("blockReason"):
        raise ContentRefused(f"gemini blocked the prompt ({feedback['blockReason']})", provider=PROVIDER_TYPE)
    candidates = body.get("candidates") or []
    if not candidates:
        return "", None
    candidate = candidates[0]
    finish = candidate.get("finishReason")
    if finish in _BLOCKED:
        raise ContentRefused(f"gemini stopped the answer ({finish})", provider=PROVIDER_TYPE)
    parts = (candidate.get("content") or {}).get("parts") or []
    return "".join(p.get("text", "") for p in parts if not p.get("thought")), finish


def parse_generate_content(body: dict, elapsed_ms: float) -> ChatResult:
    try:
        text, finish = _text_and_finish(body)
        return ChatResult(
            content=text,
            usage=_usage(body.get("usageMetadata")) or Usage(),
            ttft_ms=elapsed_ms,
            total_ms=elapsed_ms,
            response_model=body.get("modelVersion", ""),
            finish_reason=finish,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadRequest(f"unreadable generateContent answer: {type(exc).__name__}: {exc}", provider=PROVIDER_TYPE) from None


class GeminiProvider:
    provider_type = PROVIDER_TYPE

    def __init__(self, *, client: httpx.AsyncClient, base_url: str, api_key: str | KeySource):
        self._client = client
        self._base = base_url.rstrip("/")
        self._key = key_source(api_key)

    @property
    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._key() or ""}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base={self._base!r})"

    def request_body(self, request: ChatRequest) -> dict:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        body: dict = {
            "contents": [
                {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
                for m in request.messages if m.role != "system"
            ]
        }
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        config = {}
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if config:
            body["generationConfig"] = config
        return body

    async def infer(self, request: ChatRequest) -> ChatResult:
        url = f"{self._base}/models/{request.model}:generateContent"
        body, elapsed_ms = await post_json(self._client, url, self.request_body(request), headers=self._headers,
                                           provider=PROVIDER_TYPE)
        return parse_generate_content(body, elapsed_ms)

    async def infer_stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        url = f"{self._base}/models/{request.model}:streamGenerateContent?alt=sse"
        acc = StreamAccumulator(request)
        async with post_stream(self._client, url, self.request_body(request), headers=self._headers,
                               provider=PROVIDER_TYPE) as response:
            async for event in sse_events(response):
                try:
                    chunk = json.loads(event.data)
                except ValueError:
                    raise BadRequest("gemini sent a stream event that is not JSON", provider=PROVIDER_TYPE) from None
                text, finish = _text_and_finish(chunk)
                acc.finish_reason = finish or acc.finish_reason
                acc.response_model = chunk.get("modelVersion") or acc.response_model
                # usageMetadata is cumulative and repeated in every chunk: the last one wins.
                acc.usage = _usage(chunk.get("usageMetadata")) or acc.usage
                if piece := acc.text(text):
                    yield piece
            if acc.finish_reason is None:  # the last chunk carries finishReason
                raise cut_short(PROVIDER_TYPE, "finishReason")
        yield acc.finish()
