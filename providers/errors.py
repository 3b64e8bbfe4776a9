"""Every way a provider call can fail, as one tree. The router retries only RetryableError.

ProviderError
├── RetryableError            worth another attempt, here or on another model
│   ├── RateLimited           429; `retry_after` holds the provider's Retry-After, in seconds
│   ├── ProviderUnavailable   5xx, "overloaded"
│   └── ProviderTimeout       connect or read timeout, connection refused or reset
└── FatalError                the same request would fail again
    ├── BadRequest            400, unparseable response
    ├── AuthenticationFailed  401, 403
    ├── ContentRefused        content policy refusal
    ├── ContextLengthExceeded the request does not fit the model
    └── ModelNotFound         404: the provider does not serve this model id (to this key)

Messages come from the provider's error body, never from our request, so no key can leak into them.
"""

from __future__ import annotations

__all__ = [
    "ProviderError",
    "RetryableError",
    "RateLimited",
    "ProviderUnavailable",
    "ProviderTimeout",
    "FatalError",
    "BadRequest",
    "AuthenticationFailed",
    "ContentRefused",
    "ContextLengthExceeded",
    "ModelNotFound",
    "classify_http_error",
]


class ProviderError(Exception):
    code = "provider_error"
    retryable = False

    def __init__(self, message: str, *, provider: str = "", status: int | None = None):
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status


class RetryableError(ProviderError):
    retryable = True


class RateLimited(RetryableError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProviderUnavailable(RetryableError):
    code = "provider_unavailable"


class ProviderTimeout(RetryableError):
    code = "provider_timeout"


class FatalError(ProviderError):
    pass


class BadRequest(FatalError):
    code = "bad_request"


class AuthenticationFailed(FatalError):
    code = "authentication_failed"


class ContentRefused(FatalError):
    code = "content_refused"


class ContextLengthExceeded(FatalError):
    code = "context_length_exceeded"


class ModelNotFound(FatalError):
    """Fatal for this model, but not for the request: another model may serve it."""

    code = "model_not_found"


_CONTEXT_MARKERS = (
    "context_length_exceeded", "maximum context length", "too many tokens", "prompt is too long",
    "exceeds the maximum number of tokens", "too many input tokens",
)
_POLICY_MARKERS = ("content_policy", "content_filter", "safety", "responsible ai", "blocked")


def classify_http_error(
    status: int, message: str, *, provider: str, error_type: str = "", retry_after: float | None = None
) -> ProviderError:
    """Map an HTTP status and the provider's own error type/message to our tree."""
    kw = {"provider": provider, "status": status}
    text = f"{error_type} {message}".lower()
    if status == 429 or "resource_exhausted" in text or "rate_limit" in text:
        return RateLimited(message, retry_after=retry_after, **kw)
    if status in (401, 403):
        return AuthenticationFailed(message, **kw)
    if status == 404:  # chat paths exist at every family, so a 404 there is about the model
        return ModelNotFound(message, **kw)
    if status >= 500 or "overloaded" in text:
        return ProviderUnavailable(message, **kw)
    if any(marker in text for marker in _CONTEXT_MARKERS):
        return ContextLengthExceeded(message, **kw)
    if any(marker in text for marker in _POLICY_MARKERS):
        return ContentRefused(message, **kw)
    return BadRequest(message, **kw)
