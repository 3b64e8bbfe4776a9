"""One table: status and body shape -> our error class, and whether the router may retry."""

import pytest

from providers import (
    AuthenticationFailed,
    BadRequest,
    ContentRefused,
    ContextLengthExceeded,
    ModelNotFound,
    ProviderUnavailable,
    RateLimited,
)
from providers.errors import classify_http_error


@pytest.mark.parametrize(("status", "message", "kind", "error", "retryable"), [
    (429, "Rate limit reached", "requests rate_limit_exceeded", RateLimited, True),
    (400, "Quota exceeded", "RESOURCE_EXHAUSTED", RateLimited, True),
    (500, "internal", "server_error", ProviderUnavailable, True),
    (502, "bad gateway", "", ProviderUnavailable, True),
    (503, "unavailable", "UNAVAILABLE", ProviderUnavailable, True),
    (529, "Overloaded", "overloaded_error", ProviderUnavailable, True),
    (400, "Overloaded", "overloaded_error", ProviderUnavailable, True),
    (401, "Incorrect API key provided", "invalid_api_key", AuthenticationFailed, False),
    (403, "permission denied", "permission_error", AuthenticationFailed, False),
    (400, "This model's maximum context length is 8192 tokens", "invalid_request_error", ContextLengthExceeded, False),
    (400, "prompt is too long: 210000 tokens > 200000 maximum", "invalid_request_error", ContextLengthExceeded, False),
    (400, "The input token count exceeds the maximum number of tokens allowed", "INVALID_ARGUMENT", ContextLengthExceeded, False),
    (400, "Your request was rejected by our safety system", "content_policy_violation", ContentRefused, False),
    (400, "'messages' is a required property", "invalid_request_error", BadRequest, False),
    (404, "model: claude-3-opus-20240229", "not_found_error", ModelNotFound, False),
])
def test_classification(status, message, kind, error, retryable):
    classified = classify_http_error(status, message, provider="p", error_type=kind, retry_after=3.0 if status == 429 else None)
    assert type(classified) is error
    assert classified.retryable is retryable
    assert classified.message == message and classified.status == status


def test_gemini_resource_exhausted_gives_its_retry_delay_as_the_wait():
    import json as _json

    import httpx as _httpx

    from providers.http import error_from_response

    # The shape of Gemini's 429 (google.rpc.Status with a RetryInfo detail; the wait is in the body, not a header).
    body = {"error": {"code": 429, "message": "You exceeded your current quota.", "status": "RESOURCE_EXHAUSTED",
                      "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                                  {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"}]}}
    error = error_from_response(429, _json.dumps(body).encode(), _httpx.Headers(), provider="google")
    assert error.code == "rate_limited" and error.retry_after == 31.0
    anthropic = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    overloaded = error_from_response(529, _json.dumps(anthropic).encode(), _httpx.Headers(), provider="anthropic")
    assert overloaded.code == "provider_unavailable" and overloaded.retryable, "529 is retried and counts for the breaker"
