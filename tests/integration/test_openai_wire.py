"""The OpenAI adapter against a local server speaking the wire format, proven by the official SDK."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion

from providers import (
    AuthenticationFailed,
    ChatRequest,
    ContextLengthExceeded,
    Message,
    OpenAIProvider,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from providers.openai import parse_retry_after
from tests.support.openai_server import OpenAIServer, load_recording

KEY = "sk-test-wire-key"


def _request(model: str = "gpt-4-turbo") -> ChatRequest:
    return ChatRequest(model=model, messages=(Message("system", "be brief"), Message("user", "Hello World!")), max_tokens=50)


async def test_the_recorded_openai_response_parses_to_its_text_and_usage():
    recording = load_recording("openai_chat.json")
    with OpenAIServer(recording=recording) as server:
        async with httpx.AsyncClient() as client:
            result = await OpenAIProvider(client=client, base_url=server.base_url, api_key=KEY).infer(_request("gpt-3.5-turbo"))
    assert result.content == "Hello! How can I assist you today?"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (10, 9)
    assert result.response_model == "gpt-3.5-turbo-0125"
    assert result.finish_reason == "stop"


async def test_our_request_body_is_what_the_sdk_sends_and_our_server_answers_in_the_sdks_types():
    with OpenAIServer() as server:
        async with httpx.AsyncClient() as client:
            ours = OpenAIProvider(client=client, base_url=server.base_url, api_key=KEY)
            result = await ours.infer(_request())
        sdk = openai.OpenAI(base_url=server.base_url, api_key=KEY)
        completion = sdk.chat.completions.create(
            model="gpt-4-turbo", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "Hello World!"}],
            max_tokens=50,
        )
        ours_body, sdk_body = server.calls
    assert isinstance(completion, ChatCompletion)
    assert completion.choices[0].message.content == result.content
    assert completion.usage.prompt_tokens == result.usage.input_tokens
    assert ours_body == sdk_body
    assert server.auth_headers == [f"Bearer {KEY}", f"Bearer {KEY}"]


@pytest.mark.parametrize(("model", "error", "code", "retryable"), [
    ("error-500", ProviderUnavailable, "provider_unavailable", True),
    ("rate-limited", RateLimited, "rate_limited", True),
    ("bad-key", AuthenticationFailed, "authentication_failed", False),
    ("too-long", ContextLengthExceeded, "context_length_exceeded", False),
])
async def test_error_bodies_are_classified_and_keep_the_providers_message(model, error, code, retryable):
    with OpenAIServer() as server:
        async with httpx.AsyncClient() as client:
            with pytest.raises(error) as caught:
                await OpenAIProvider(client=client, base_url=server.base_url, api_key=KEY).infer(_request(model))
    assert caught.value.code == code and caught.value.retryable is retryable
    assert caught.value.message and KEY not in str(caught.value)
    if model == "rate-limited":
        assert caught.value.retry_after == 2.0


async def test_an_unreachable_server_is_a_retryable_timeout():
    async with httpx.AsyncClient() as client:
        provider = OpenAIProvider(client=client, base_url="http://127.0.0.1:9/v1", api_key=KEY)
        with pytest.raises(ProviderTimeout):
            await provider.infer(_request())
    assert KEY not in repr(provider)


@pytest.mark.parametrize(("value", "seconds"), [("2", 2.0), ("0.5", 0.5), (None, None), ("garbage", None),
                                                ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after(value, seconds):
    assert parse_retry_after(value) == seconds
