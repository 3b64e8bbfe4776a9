"""The OpenAI-compatible endpoint on the worker, driven by the official openai SDK (and a streamed
Messages API call by the anthropic SDK, on the same routing)."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tests.conftest import ANALYST_KEY, CALLER_KEY, OPERATOR_KEY

pytestmark = pytest.mark.kafka


@pytest.fixture
def sdk(stack):
    return openai.AsyncOpenAI(base_url=stack.http_url + "/v1", api_key=CALLER_KEY, max_retries=0)


async def test_the_openai_sdk_gets_a_completion_routed_by_task(sdk):
    completion = await sdk.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "review this code please"}],
        extra_headers={"X-Task-Type": "security_review"})
    assert isinstance(completion, openai.types.chat.ChatCompletion)
    assert completion.model == "claude-3-5-sonnet"  # security_review's primary
    assert completion.choices[0].message.content.endswith("a 4-word prompt.")
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens > 0


async def test_a_model_id_pins_the_model_and_metadata_can_carry_the_task(sdk):
    pinned = await sdk.chat.completions.create(model="gemini-pro", messages=[{"role": "user", "content": "hi"}])
    assert pinned.model == "gemini-pro"
    routed = await sdk.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}],
                                               metadata={"task_type": "requirements_analysis"})
    assert routed.model == "claude-3-5-sonnet"


async def test_streaming_through_the_sdk(sdk):
    stream = await sdk.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "one two three"}], stream=True,
        stream_options={"include_usage": True}, extra_headers={"X-Task-Type": "security_review"})
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith("a 3-word prompt.")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert {c.model for c in chunks} == {"claude-3-5-sonnet"}, "every chunk names the model routed to, from the first"


async def test_a_streamed_messages_api_answer_names_the_model_routed_to_in_its_first_event(stack):
    sdk = anthropic.AsyncAnthropic(base_url=stack.http_url, api_key=CALLER_KEY, max_retries=0, timeout=60)
    async with sdk.messages.stream(model="auto", max_tokens=100, messages=[{"role": "user", "content": "one two three"}],
                                   extra_headers={"X-Task-Type": "security_review"}) as stream:
        started = [event.message.model async for event in stream if event.type == "message_start"]
        final = await stream.get_final_message()
    assert started == [final.model] == ["claude-3-5-sonnet"]


async def test_models_lists_auto_and_the_catalog(sdk):
    ids = [m.id async for m in sdk.models.list()]
    assert ids[0] == "auto" and {"gpt-4-turbo", "claude-3-haiku", "local-security-model"} <= set(ids)


async def test_keys_and_roles(stack):
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(base_url=stack.http_url, timeout=30) as http:
        missing = await http.post("/v1/chat/completions", json=body)
        wrong_role = await http.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {ANALYST_KEY}"})
        unknown = await http.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer nope"})
        good = await http.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {CALLER_KEY}"})
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
    assert unknown.status_code == 401
    assert wrong_role.status_code == 403 and "lacks the caller role" in wrong_role.json()["error"]["message"]
    assert good.status_code == 200
    log = (stack.log_dir / "worker.log").read_text()
    assert CALLER_KEY not in log and ANALYST_KEY not in log


async def test_errors_are_openai_shaped_with_proper_statuses(sdk, stack):
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 400 and "unknown model 'gpt-9'" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}],
                                          metadata={"task_type": "poetry"})
    assert caught.value.code == "unknown_task_type"
    async with httpx.AsyncClient(base_url=stack.http_url, timeout=30) as http:
        not_json = await http.post("/v1/chat/completions", content=b"{oops",
                                   headers={"Authorization": f"Bearer {CALLER_KEY}", "Content-Type": "application/json"})
        no_messages = await http.post("/v1/chat/completions", json={"model": "auto"},
                                      headers={"Authorization": f"Bearer {CALLER_KEY}"})
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"
    assert no_messages.status_code == 400 and "messages" in no_messages.json()["error"]["message"]


async def test_the_cluster_view_takes_an_operator_or_analyst_key_and_healthz_stays_open(stack):
    port = stack.workers["worker"]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        anonymous = await http.get("/cluster")
        tenant = await http.get("/cluster", headers={"Authorization": f"Bearer {CALLER_KEY}"})
        operator = await http.get("/cluster", headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
        analyst = await http.get("/cluster", headers={"Authorization": f"Bearer {ANALYST_KEY}"})
        health = await http.get("/healthz")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "invalid_api_key"
    assert tenant.status_code == 403 and tenant.json()["error"]["code"] == "insufficient_role"
    assert operator.status_code == analyst.status_code == 200 and "budgets" in operator.json()
    assert health.status_code == 200 and health.json() == {"ready": True, "why": []}
