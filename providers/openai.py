"""OpenAI chat completions over httpx. Local OpenAI-compatible servers reuse this class."""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone

import httpx

from providers.errors import BadRequest, ProviderError, ProviderTimeout, classify_http_error
from providers.types import ChatRequest, ChatResult, Usage

__all__ = ["PROVIDER_TYPE", "OpenAIProvider", "parse_retry_after"]

PROVIDER_TYPE = "openai"


class OpenAIProvider:
    """POST {base_url}/chat/completions with a bearer key."""

    provider_type = PROVIDER_TYPE

    def __init__(self, *, client: httpx.AsyncClient, base_url: str, api_key: str | None, provider_type: str = PROVIDER_TYPE):
        self._client = client
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.provider_type = provider_type

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(url={self._url!r})"

    def request_body(self, request: ChatRequest) -> dict:
        body: dict = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        return body

    async def infer(self, request: ChatRequest) -> ChatResult:
        started = time.perf_counter()
        try:
            response = await self._client.post(self._url, json=self.request_body(request), headers=self._headers)
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(f"{type(exc).__name__} calling {self._url}", provider=self.provider_type) from None
        except httpx.TransportError as exc:
            raise ProviderTimeout(f"cannot reach {self._url}: {type(exc).__name__}", provider=self.provider_type) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status_code >= 400:
            raise self._error(response)
        return parse_chat_completion(response.content, elapsed_ms, provider=self.provider_type)

    def _error(self, response: httpx.Response) -> ProviderError:
        message, error_type = f"HTTP {response.status_code}", ""
        try:
            error = response.json().get("error") or {}
            message = error.get("message") or message
            error_type = f"{error.get('type') or ''} {error.get('code') or ''}"
        except (ValueError, AttributeError):
            pass
        return classify_http_error(
            response.status_code,
            message,
            provider=self.provider_type,
            error_type=error_type,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )


def parse_chat_completion(raw: bytes, elapsed_ms: float, *, provider: str) -> ChatResult:
    try:
        body = json.loads(raw)
        choice = body["choices"][0]
        usage = body.get("usage") or {}
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        return ChatResult(
            content=choice["message"].get("content") or "",
            usage=Usage(
                input_tokens=int(usage.get("prompt_tokens", 0)),
                output_tokens=int(usage.get("completion_tokens", 0)),
                cached_input_tokens=int(cached),
            ),
            ttft_ms=elapsed_ms,
            total_ms=elapsed_ms,
            response_model=body.get("model", ""),
            finish_reason=choice.get("finish_reason"),
        )
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BadRequest(f"unreadable chat completion from {provider}: {type(exc).__name__}: {exc}", provider=provider) from None


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
