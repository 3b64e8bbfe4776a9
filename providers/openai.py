"""OpenAI chat completions. Local OpenAI-compatible servers (Ollama, vLLM, llama.cpp) reuse this class."""

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

__all__ = ["PROVIDER_TYPE", "OpenAIProvider", "parse_chat_completion", "usage_from"]

PROVIDER_TYPE = "openai"


def usage_from(usage: dict | None) -> Usage | None:
    if not usage:
        return None
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return Usage(
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cached_input_tokens=int(cached),
    )


def parse_chat_completion(body: dict, elapsed_ms: float, *, provider: str) -> ChatResult:
    try:
        choice = body["choices"][0]
        if choice.get("finish_reason") == "content_filter":
            raise ContentRefused(f"{provider} refused the request (content_filter)", provider=provider)
        return ChatResult(
            content=choice["message"].get("content") or "",
            usage=usage_from(body.get("usage")) or Usage(),
            ttft_ms=elapsed_ms,
            total_ms=elapsed_ms,
            response_model=body.get("model", ""),
            finish_reason=choice.get("finish_reason"),
        )
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise BadRequest(f"unreadable chat completion from {provider}: {type(exc).__name__}: {exc}", provider=provider) from None


class OpenAIProvider:
    """POST {base_url}/chat/completions with a bearer key (none for local servers that need none)."""

    provider_type = PROVIDER_TYPE

    def __init__(self, *, client: httpx.AsyncClient, base_url: str, api_key: str | None | KeySource,
                 provider_type: str = PROVIDER_TYPE):
        self._client = client
        self._base = base_url.rstrip("/")
        self._url = self._base + "/chat/completions"
        self._key = key_source(api_key)
        self.provider_type = provider_type

    @property
    def _headers(self) -> dict[str, str]:
        key = self._key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(url={self._url!r})"

    def request_body(self, request: ChatRequest, *, stream: bool = False) -> dict:
        body: dict = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if stream:
            # Without this OpenAI streams carry no usage at all.
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    async def infer(self, request: ChatRequest) -> ChatResult:
        body, elapsed_ms = await post_json(self._client, self._url, self.request_body(request),
                                           headers=self._headers, provider=self.provider_type)
        return parse_chat_completion(body, elapsed_ms, provider=self.provider_type)

    async def infer_stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        acc = StreamAccumulator(request)
        async with post_stream(self._client, self._url, self.request_body(request, stream=True),
                               headers=self._headers, provider=self.provider_type) as response:
            done = False
            async for event in sse_events(response):
                if event.data == "[DONE]":
                    done = True
                    break
                try:
                    chunk = json.loads(event.data)
                except ValueError:
                    raise BadRequest(f"{self.provider_type} sent a stream event that is not JSON", provider=self.provider_type) from None
                if isinstance(chunk.get("error"), dict):  # a failure after the stream began: OpenAI's in-stream error
                    message = str(chunk["error"].get("message") or "stream error")
                    raise ProviderUnavailable(f"{self.provider_type} failed mid-stream: {message}", provider=self.provider_type)
                acc.response_model = chunk.get("model") or acc.response_model
                acc.usage = usage_from(chunk.get("usage")) or acc.usage
                for choice in chunk.get("choices") or []:
                    acc.finish_reason = choice.get("finish_reason") or acc.finish_reason
                    if piece := acc.text((choice.get("delta") or {}).get("content") or ""):
                        yield piece
            if not done:
                raise cut_short(self.provider_type, "[DONE]")
        yield acc.finish()

    async def submit_batch(self, requests: list[tuple[str, ChatRequest]]) -> BatchJob:
        """OpenAI's Batch API: upload the requests as a JSONL file, then create a batch over it."""
        lines = [
            json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                        "body": self.request_body(request)})
            for custom_id, request in requests
        ]
        upload, _ = await request_json(
            self._client, "POST", self._base + "/files", headers=self._headers, provider=self.provider_type,
            files={"file": ("batch.jsonl", "\n".join(lines).encode(), "application/jsonl")}, data={"purpose": "batch"},
        )
        batch, _ = await post_json(
            self._client, self._base + "/batches",
            {"input_file_id": upload["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"},
            headers=self._headers, provider=self.provider_type,
        )
        return _openai_batch(batch, self.provider_type)

    async def batch_status(self, batch_id: str) -> BatchJob:
        batch, _ = await request_json(self._client, "GET", f"{self._base}/batches/{batch_id}",
                                      headers=self._headers, provider=self.provider_type)
        return _openai_batch(batch, self.provider_type)


def _openai_batch(batch: dict, provider: str) -> BatchJob:
    counts = batch.get("request_counts") or {}
    return BatchJob(provider=provider, id=batch["id"], status=batch["status"],
                    request_counts={k: int(v) for k, v in counts.items()})
