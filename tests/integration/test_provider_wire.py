"""Every family completes a call and streams one against its wire format, and parses its recordings."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from providers import (
    AuthenticationFailed,
    ChatRequest,
    ContextLengthExceeded,
    Message,
    NoNativeBatch,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    cost_usd,
    make_client,
    native_batch,
)
from providers.http import parse_retry_after, post_json
from tests.integration.wire_helpers import FAMILIES, KEY, MODEL, adapter
from tests.support.provider_server import ProviderServer, load_recording

PROMPT = (Message("system", "be brief"), Message("user", "Hello World, how are you?"))


def _request(family: str, model: str | None = None) -> ChatRequest:
    return ChatRequest(model=model or MODEL[family], messages=PROMPT, max_tokens=50)


async def _stream(provider, request):  # noqa: ANN001, ANN202
    texts, results = [], []
    async for chunk in provider.infer_stream(request):
        texts.append(chunk.text)
        if chunk.result is not None:
            results.append(chunk.result)
    assert len(results) == 1, "exactly the last chunk carries the result"
    return "".join(texts), results[0]


@pytest.mark.parametrize("family", FAMILIES)
async def test_each_family_completes_a_call_and_a_stream_with_the_same_usage_and_cost(family):
    with ProviderServer() as server:
        async with make_client() as client:
            provider = adapter(family, client, server.root)
            plain = await provider.infer(_request(family))
            streamed_text, streamed = await _stream(provider, _request(family))
    answer = f"ok from {MODEL[family]}"
    # The server counts words of every prompt text it was sent: "be brief" + the user's 5 words.
    assert plain.content == streamed_text == streamed.content == answer
    assert (plain.usage.input_tokens, plain.usage.output_tokens) == (7, 3)
    assert streamed.usage == plain.usage and not streamed.usage_estimated
    assert streamed.ttft_ms <= streamed.total_ms and streamed.tokens_per_second > 0
    if family != "local":
        model = {"google": "gemini-pro"}.get(family, MODEL[family])
        assert cost_usd(family, model, streamed.usage) == cost_usd(family, model, plain.usage) > 0
    assert all(h in (f"Bearer {KEY}", KEY) for h in server.auth_headers)


RECORDED = [
    # file, family, cohere api version, (input, output) tokens the recording reports
    ("openai_chat.json", "openai", "v2", (10, 9)),
    ("anthropic_chat.json", "anthropic", "v2", (10, 43)),
    ("anthropic_stream_chat.json", "anthropic", "v2", (10, 35)),
    ("gemini_generate_content.json", "google", "v2", (6, 18)),
    ("gemini_stream_generate_content.json", "google", "v2", (6, 15)),
    ("cohere_v1_chat.json", "cohere", "v1", (2, 9)),  # billed_units, not tokens (68, 9)
    ("cohere_v1_stream_chat.json", "cohere", "v1", (5, 100)),  # billed_units, not tokens (71, 100)
]


def _recorded_text(recording: dict) -> str:
    """The answer text, read straight from the recorded body (independently of our adapters)."""
    body = recording["response"]["body"]
    if body.lstrip().startswith("{") and "\n{" not in body.strip():
        data = json.loads(body)
        if "choices" in data:
            return data["choices"][0]["message"]["content"]
        if "content" in data:
            return "".join(b["text"] for b in data["content"])
        if "candidates" in data:
            return "".join(p["text"] for p in data["candidates"][0]["content"]["parts"])
        return data["text"]
    pieces = []
    for line in body.replace("\r\n", "\n").split("\n"):
        line = line.removeprefix("data: ")
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event.get("type") == "content_block_delta":
            pieces.append(event["delta"]["text"])
        elif event.get("event_type") == "text-generation":
            pieces.append(event["text"])
        elif "candidates" in event:
            pieces += [p["text"] for p in event["candidates"][0]["content"]["parts"]]
        elif "choices" in event:
            pieces.append(event["choices"][0]["delta"].get("content") or "")
    return "".join(pieces)


@pytest.mark.parametrize(("name", "family", "version", "tokens"), RECORDED)
async def test_recorded_responses_parse_to_their_text_and_usage(name, family, version, tokens):
    recording = load_recording(name)
    streamed = "stream" in name
    with ProviderServer(recording=recording) as server:
        async with make_client() as client:
            provider = adapter(family, client, server.root, cohere_version=version)
            if streamed:
                text, result = await _stream(provider, _request(family))
                assert text == result.content
            else:
                result = await provider.infer(_request(family))
    assert result.content == _recorded_text(recording)
    assert (result.usage.input_tokens, result.usage.output_tokens) == tokens
    assert not result.usage_estimated


async def test_an_openai_stream_without_usage_is_estimated_never_free():
    recording = load_recording("openai_stream_chat.json")  # the request did not ask for usage
    with ProviderServer(recording=recording) as server:
        async with make_client() as client:
            text, result = await _stream(adapter("openai", client, server.root), _request("openai", "gpt-3.5-turbo"))
    assert text == _recorded_text(recording) == result.content
    assert result.usage_estimated
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert cost_usd("openai", "gpt-3.5-turbo", result.usage) > Decimal(0)


async def test_our_stream_asks_openai_for_usage():
    with ProviderServer() as server:
        async with make_client() as client:
            await _stream(adapter("openai", client, server.root), _request("openai"))
    assert server.calls[0]["stream"] is True and server.calls[0]["stream_options"] == {"include_usage": True}


ERRORS = [
    ("error-500", ProviderUnavailable, True),
    ("overloaded", ProviderUnavailable, True),
    ("rate-limited", RateLimited, True),
    ("bad-key", AuthenticationFailed, False),
    ("too-long", ContextLengthExceeded, False),
]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(("model", "error", "retryable"), ERRORS)
async def test_error_bodies_classify_the_same_in_every_family(family, model, error, retryable):
    with ProviderServer() as server:
        async with make_client() as client:
            provider = adapter(family, client, server.root)
            with pytest.raises(error) as caught:
                await provider.infer(_request(family, model))
            with pytest.raises(error):
                await _stream(provider, _request(family, model))
    assert caught.value.retryable is retryable
    assert caught.value.message and not caught.value.message.startswith("HTTP "), "the provider's own message is kept"
    assert KEY not in str(caught.value) and KEY not in repr(provider)
    if model == "rate-limited":
        assert caught.value.retry_after == 2.0


async def test_an_unreachable_server_is_a_retryable_timeout():
    async with make_client(connect_timeout=1) as client:
        provider = adapter("openai", client, "http://127.0.0.1:9")
        with pytest.raises(ProviderTimeout) as caught:
            await provider.infer(_request("openai"))
    assert caught.value.retryable


async def test_the_client_keeps_no_cookie_a_provider_sets():
    seen: list[str | None] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        response = web.json_response({"ok": True})
        response.set_cookie("session", "from-the-provider")
        return response

    app = web.Application()
    app.router.add_post("/v1/x", answer)
    async with TestServer(app, host="127.0.0.1") as server, make_client() as client:
        for _ in range(2):
            await post_json(client, str(server.make_url("/v1/x")), {}, headers={}, provider="openai")
        assert not client.cookies
    assert seen == [None, None]


@pytest.mark.parametrize(("value", "seconds"), [("2", 2.0), ("0.5", 0.5), (None, None), ("garbage", None),
                                                ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after(value, seconds):
    assert parse_retry_after(value) == seconds


async def test_openai_and_anthropic_batches_and_a_clear_no_elsewhere():
    requests = [(f"req-{i}", _request("openai")) for i in range(3)]
    with ProviderServer() as server:
        async with make_client() as client:
            openai_batch = native_batch(adapter("openai", client, server.root))
            job = await openai_batch.submit_batch(requests)
            assert (job.id, job.status, job.request_counts["total"]) == ("batch_test", "validating", 3)
            assert (await openai_batch.batch_status(job.id)).status == "in_progress"
            uploaded = [json.loads(line) for line in server.calls[0]["_raw"].splitlines() if line.startswith("{")]
            assert [u["custom_id"] for u in uploaded] == ["req-0", "req-1", "req-2"]
            assert uploaded[0]["url"] == "/v1/chat/completions" and uploaded[0]["body"]["model"] == "gpt-4-turbo"

            anthropic_batch = native_batch(adapter("anthropic", client, server.root))
            job = await anthropic_batch.submit_batch([(c, _request("anthropic")) for c, _ in requests])
            assert (job.id, job.status, job.request_counts["processing"]) == ("msgbatch_test", "in_progress", 3)
            assert (await anthropic_batch.batch_status(job.id)).id == "msgbatch_test"

            for family in ("google", "cohere", "local"):
                with pytest.raises(NoNativeBatch, match=f"{'google' if family == 'google' else family} has no native batch API"):
                    native_batch(adapter(family, client, server.root))


async def test_cohere_embed_bills_input_tokens():
    with ProviderServer() as server:
        async with make_client() as client:
            result = await adapter("cohere", client, server.root).embed(["a", "b"], model="embed-english-v3.0")
    assert len(result.vectors) == 2 and result.usage.input_tokens == 4
    assert server.calls[0]["embedding_types"] == ["float"]


@pytest.mark.parametrize("family", FAMILIES)
async def test_each_family_lists_the_models_its_key_may_call(family):
    with ProviderServer() as server:
        server.served_models = {"model-a", "model-b"}
        async with make_client() as client:
            listed = await adapter(family, client, server.root).list_models()
    assert listed == {"model-a", "model-b"}
    assert server.paths[-1].split("?")[0] == {"google": "/v1beta/models"}.get(family, "/v1/models")


async def test_usage_on_a_chunk_that_still_has_choices_and_chunks_after_it_is_read():
    with ProviderServer() as server:
        async with make_client() as client:
            text, result = await _stream(adapter("openai", client, server.root), _request("openai", "usage-mid-stream"))
    assert text == "ok from usage-mid-stream" and result.finish_reason == "stop"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (7, 3) and not result.usage_estimated


@pytest.mark.parametrize("family", ["anthropic", "cohere"])
async def test_a_stream_that_ends_with_its_family_s_trailer_is_a_whole_answer(family):
    """Anthropic's ping events inside the stream; Cohere v2's data: [DONE] after message-end."""
    with ProviderServer() as server:
        sent = b"".join(getattr(server, f"_{family}")(MODEL[family], ["ok "], 1, True)[2])
        async with make_client() as client:
            text, result = await _stream(adapter(family, client, server.root), _request(family))
    trailer = {"anthropic": b"event: ping", "cohere": b"event: message-end"}[family]
    assert trailer in sent and (family != "cohere" or sent.endswith(b"data: [DONE]\n\n"))
    assert text == f"ok from {MODEL[family]}" and not result.usage_estimated
