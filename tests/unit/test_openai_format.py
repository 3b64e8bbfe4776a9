"""OpenAI chat-completions bodies to our events and back, and our error codes to HTTP statuses."""

import json

import pytest

from streams.events import ErrorInfo, LLMResponse, TokenUsage
from streams.ingress.openai_format import (
    BadChatRequest,
    ChunkFrames,
    completion_body,
    error_body,
    status_for,
    to_llm_request,
)

MODELS = {"gpt-4-turbo", "claude-3-haiku"}
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(("body", "header", "task", "preferred", "fallbacks"), [
    ({"model": "auto", "messages": MESSAGES}, None, "complex_reasoning", None, []),
    ({"model": "auto", "messages": MESSAGES}, "code_generation", "code_generation", None, []),
    ({"model": "auto", "messages": MESSAGES, "metadata": {"task_type": "security_review"}}, "code_generation",
     "security_review", None, []),
    ({"model": "claude-3-haiku", "messages": MESSAGES}, None, "complex_reasoning", "claude-3-haiku", ["claude-3-haiku"]),
])
def test_routing_from_the_openai_body(body, header, task, preferred, fallbacks):
    request, stream = to_llm_request(body, task_header=header, models=MODELS)
    assert (request.task_type, request.preferred_model, request.fallback_models, stream) == (task, preferred, fallbacks, False)
    assert "task_type" not in request.metadata


def test_max_completion_tokens_and_stream():
    request, stream = to_llm_request({"model": "auto", "messages": MESSAGES, "max_completion_tokens": 9, "stream": True},
                                     task_header=None, models=MODELS)
    assert request.max_tokens == 9 and stream


@pytest.mark.parametrize(("body", "message"), [
    ([], "must be a JSON object"),
    ({"messages": MESSAGES}, "'model' is required"),
    ({"model": "gpt-9", "messages": MESSAGES}, "unknown model 'gpt-9'"),
    ({"model": "auto", "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
    ({"model": "auto", "messages": MESSAGES, "metadata": "x"}, "'metadata' must be an object"),
])
def test_bad_bodies_say_what_is_wrong(body, message):
    with pytest.raises(BadChatRequest, match=message):
        to_llm_request(body, task_header=None, models=MODELS)


@pytest.mark.parametrize(("code", "status"), [
    ("invalid_request", 400), ("unknown_task_type", 400), ("budget_exceeded", 402), ("rate_limited", 429),
    ("provider_unavailable", 503), ("provider_timeout", 503), ("authentication_failed", 502), ("timeout", 504),
    ("internal_error", 500),
])
def test_error_codes_map_to_statuses(code, status):
    assert status_for(code) == status
    assert error_body(status, "m", code=code)["error"]["code"] == code


def test_response_bodies_follow_the_openai_schema():
    response = LLMResponse(request_id="r1", status="ok", model="m", content="hello", usage=TokenUsage(input_tokens=3, output_tokens=2))
    body = completion_body(response)
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hello"}
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    chunks = ChunkFrames("r1", "auto")
    frames = [chunks.role("m"), chunks.content("hel"), chunks.content("lo"), *chunks.end(response, include_usage=True)]
    assert {json.loads(f[6:])["model"] for f in frames[:3]} == {"m"}, "every chunk names the model answering"
    assert json.loads(ChunkFrames("r2", "auto").role(None)[6:])["model"] == "auto", "not known yet: the one asked for"
    assert frames[-1] == b"data: [DONE]\n\n"
    assert json.loads(frames[-2][6:])["usage"]["total_tokens"] == 5
    assert [json.loads(f[6:])["choices"][0]["delta"].get("content") for f in frames[1:3]] == ["hel", "lo"]
    assert json.loads(frames[-3][6:])["model"] == "m", "the end names the model that answered"
    error = ChunkFrames.error("the provider failed", "stream_interrupted")
    assert json.loads(error[0][6:])["error"]["code"] == "stream_interrupted" and error[1] == b"data: [DONE]\n\n"
    failed = LLMResponse(request_id="r2", status="error", error=ErrorInfo(code="timeout", message="x"))
    assert completion_body(failed)["choices"][0]["message"]["content"] == ""


def test_a_replayed_assistant_turn_with_empty_extras_is_carried_and_a_message_name_is_refused_by_name():
    replayed = {"role": "assistant", "content": None, "refusal": None, "annotations": [], "audio": None,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
    body = {"model": "auto", "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "messages": [{"role": "user", "content": "hi"}, replayed, {"role": "tool", "tool_call_id": "call_1", "content": "1"}]}
    request, _ = to_llm_request(body, task_header=None, models=set())
    assert [m.role for m in request.messages] == ["user", "assistant", "tool"]
    with pytest.raises(BadChatRequest) as caught:
        to_llm_request({"model": "auto", "messages": [{"role": "user", "content": "hi", "name": "ann"}]},
                       task_header=None, models=set())
    assert caught.value.param == "messages.0.name"
