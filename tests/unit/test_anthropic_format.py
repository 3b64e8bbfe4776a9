"""Anthropic's Messages format to our events and back: pure translation, every block carried or refused by name."""

from __future__ import annotations

import json

import pytest

from streams.events import LLMResponse, TokenUsage, ToolCallFragment
from streams.events.agent_parts import ToolCall
from streams.ingress.anthropic_format import BadMessagesRequest, MessageEvents, message_body, to_llm_request

MODELS = {"claude-3-5-sonnet", "gpt-4-turbo"}


def _request(**body: object):  # noqa: ANN202
    return to_llm_request({"model": "auto", "max_tokens": 100, **body}, task_header=None, models=MODELS)[0]


def test_a_tool_round_trip_becomes_our_turns():
    request = _request(system=[{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}], messages=[
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "text", "text": "let me see"},
                                          {"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "18 C"},
                                     {"type": "text", "text": "and tomorrow?"}]},
    ], tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        tool_choice={"type": "any", "disable_parallel_tool_use": True}, metadata={"user_id": "u1", "task_type": "code_generation"})
    roles = [m.role for m in request.messages]
    assert roles == ["system", "user", "assistant", "tool", "user"]
    assert request.messages[0].content == "be brief"
    assert request.messages[2].tool_calls == [ToolCall(id="tu_1", name="get_weather", arguments='{"city": "Oslo"}')]
    assert (request.messages[3].tool_call_id, request.messages[3].content) == ("tu_1", "18 C")
    assert (request.tool_choice, request.parallel_tool_calls, request.task_type) == ("required", False, "code_generation")
    assert request.metadata == {"user": "u1"} and request.tools[0].name == "get_weather"


@pytest.mark.parametrize(("body", "message"), [
    ({"top_k": 3}, "top_k: not supported by this router"),
    ({"frequency_penalty": 1}, "frequency_penalty: not a Messages API parameter"),
    ({"messages": [{"role": "user", "content": [{"type": "document"}]}]},
     "messages.0.content.0.type: content blocks of type 'document' are not carried in a user turn"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0.type: server tools"),
    ({"stop_sequences": ["a", "b", "c", "d", "e"]}, "stop_sequences: at most 4"),
    ({"model": "claude-9"}, "model: unknown model 'claude-9'"),
    ({"output_config": {"effort": "high"}}, "output_config.effort: effort levels"),
    ({"speed": "fast"}, "speed: 'fast' is not routed"),
    ({"inference_geo": "eu"}, r"inference_geo: not supported by this router \(the router cannot promise where"),
])
def test_what_is_not_carried_is_refused_by_name(body, message):
    with pytest.raises(BadMessagesRequest, match=message):
        to_llm_request({"model": "auto", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}], **body},
                       task_header=None, models=MODELS)


def test_structured_output_and_harmless_hints_are_carried_or_accepted():
    request = _request(messages=[{"role": "user", "content": "x"}], cache_control={"type": "ephemeral"},
                       service_tier="standard_only", speed="standard", user_profile_id="up_1",
                       output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}})
    assert request.response_format.type == "json_schema" and request.response_format.schema_ == {"type": "object"}
    assert request.metadata == {"user_profile_id": "up_1"}


def test_max_tokens_is_required_as_anthropic_requires_it():
    with pytest.raises(BadMessagesRequest, match="^max_tokens: Field required$"):
        to_llm_request({"model": "auto", "messages": [{"role": "user", "content": "x"}]}, task_header=None, models=MODELS)


def _answer(**fields: object) -> LLMResponse:
    return LLMResponse(request_id="r1", status="ok", model="gpt-4-turbo", provider="openai", **fields)


def test_an_answer_in_anthropics_shape_counts_input_apart_from_the_cache():
    body = message_body(_answer(content="hi", finish_reason="tool_calls",
                                tool_calls=[ToolCall(id="c1", name="f", arguments='{"a": 1}')],
                                usage=TokenUsage(input_tokens=100, output_tokens=7, cached_input_tokens=60,
                                                 cache_write_tokens=10)))
    assert body["content"] == [{"type": "text", "text": "hi"}, {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}}]
    assert body["stop_reason"] == "tool_use"
    assert body["usage"] == {"input_tokens": 30, "output_tokens": 7, "cache_read_input_tokens": 60,
                             "cache_creation_input_tokens": 10}


def test_a_stream_opens_and_closes_one_block_per_kind_of_piece():
    events = MessageEvents("r1", "auto")
    frames = [*events.opening("hel", "claude-3-5-sonnet"), *events.piece("hel"), *events.piece("lo"),
              *events.piece(ToolCallFragment(index=0, id="c1", name="f", arguments='{"a"')),
              *events.piece(ToolCallFragment(index=0, arguments=": 1}")),
              *events.end(_answer(content="hello", finish_reason="tool_calls", usage=TokenUsage(output_tokens=3)))]
    kinds = [json.loads(f.decode().split("data: ", 1)[1])["type"] for f in frames]
    assert kinds == ["message_start", "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_stop", "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_stop", "message_delta", "message_stop"]
    start = json.loads(frames[0].decode().split("data: ", 1)[1])
    assert start["message"]["model"] == "claude-3-5-sonnet", "the model answering, not the one asked for"
    unknown = json.loads(MessageEvents("r2", "auto").opening("x", None)[0].decode().split("data: ", 1)[1])
    assert unknown["message"]["model"] == "auto", "not known yet: the model asked for"
    tool_start = json.loads(frames[5].decode().split("data: ", 1)[1])
    assert tool_start == {"type": "content_block_start", "index": 1,
                          "content_block": {"type": "tool_use", "id": "c1", "name": "f", "input": {}}}
    assert json.loads(frames[-2].decode().split("data: ", 1)[1])["delta"]["stop_reason"] == "tool_use"
