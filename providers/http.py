"""The HTTP plumbing every family shares: one pooled client, POSTs, and mapping failures to our tree.

The client uses the httpx-aiohttp transport: httpx's own pool slows down under concurrency,
and aiohttp's does not (see issue 3's measurements). The API stays httpx's.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx
from httpx_aiohttp import AiohttpTransport

from providers.errors import BadRequest, ProviderError, ProviderTimeout, classify_http_error

__all__ = ["make_client", "request_json", "post_json", "post_stream", "error_from_response", "parse_retry_after"]


class _IgnoredCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class _CookielessClient(httpx.AsyncClient):
    """An AsyncClient that keeps no cookies.

    Provider APIs authenticate with keys, never cookies, and a cookie one tenant's call brought
    back must not ride on another's. httpx read every response's Set-Cookie headers through
    urllib's cookie jar all the same: 3% of a saturated worker's CPU (py-spy --gil).
    """

    def __init__(self, **options: object):
        super().__init__(**options)
        self._no_cookies = _IgnoredCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies


def make_client(*, connect_timeout: float = 5.0, read_timeout: float = 60.0, max_connections: int = 256) -> httpx.AsyncClient:
    """One shared AsyncClient for every provider. The caller owns it and closes it."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections // 4)
    # With a transport given, httpx ignores the client's own limits: the pool is the transport's.
    return _CookielessClient(
        transport=AiohttpTransport(limits=limits),
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
    )


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


def _error_text(body: object) -> tuple[str, str]:
    """(message, type) from the error bodies of OpenAI, Anthropic, Gemini and Cohere."""
    if isinstance(body, list) and body:  # Gemini sometimes wraps the error in a list
        body = body[0]
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error")
    if isinstance(error, dict):
        kinds = " ".join(str(error.get(k) or "") for k in ("type", "code", "status"))
        return str(error.get("message") or ""), kinds
    if isinstance(error, str):
        return error, ""
    return str(body.get("message") or ""), str(body.get("type") or "")


def _retry_info(body: object) -> float | None:
    """Gemini's wait, in its error body rather than a header: a google.rpc.RetryInfo detail's retryDelay."""
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    for detail in (error.get("details") or []) if isinstance(error, dict) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            try:
                return max(0.0, float(str(detail.get("retryDelay", "")).removesuffix("s")))
            except ValueError:
                return None
    return None


def error_from_response(status: int, content: bytes, headers: httpx.Headers, *, provider: str) -> ProviderError:
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    message, kind = _error_text(body)
    return classify_http_error(
        status,
        message or f"HTTP {status}",
        provider=provider,
        error_type=kind,
        retry_after=parse_retry_after(headers.get("retry-after")) or _retry_info(body),
    )


def _transport_error(exc: Exception, url: str, provider: str) -> ProviderError:
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"{type(exc).__name__} calling {url}", provider=provider)
    return ProviderTimeout(f"cannot reach {url}: {type(exc).__name__}", provider=provider)


async def request_json(
    client: httpx.AsyncClient, method: str, url: str, *, headers: dict[str, str], provider: str, **kwargs: object
) -> tuple[dict, float]:
    """Send a request; return the parsed JSON answer and the elapsed milliseconds, or raise our error."""
    started = time.perf_counter()
    try:
        response = await client.request(method, url, headers=headers, **kwargs)
    except httpx.TransportError as exc:
        raise _transport_error(exc, url, provider) from None
    elapsed_ms = (time.perf_counter() - started) * 1000
    if response.status_code >= 400:
        raise error_from_response(response.status_code, response.content, response.headers, provider=provider)
    try:
        return response.json(), elapsed_ms
    except ValueError:
        raise BadRequest(f"{provider} answered with a body that is not JSON", provider=provider) from None


async def post_json(
    client: httpx.AsyncClient, url: str, body: dict, *, headers: dict[str, str], provider: str
) -> tuple[dict, float]:
    return await request_json(client, "POST", url, headers=headers, provider=provider, json=body)


@asynccontextmanager
async def post_stream(
    client: httpx.AsyncClient, url: str, body: dict, *, headers: dict[str, str], provider: str
) -> AsyncIterator[httpx.Response]:
    """POST and yield the response with its body unread, after checking the status."""
    try:
        async with client.stream("POST", url, json=body, headers=headers) as response:
            if response.status_code >= 400:
                content = await response.aread()
                raise error_from_response(response.status_code, content, response.headers, provider=provider)
            yield response
    except httpx.TransportError as exc:
        raise _transport_error(exc, url, provider) from None
