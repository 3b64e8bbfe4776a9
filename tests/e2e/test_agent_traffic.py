"""Agent traffic end to end: the official openai SDK runs a tool loop through the HTTP endpoint against
each family's wire server, plain and streamed, and both ends are checked: what the SDK got, and what the
wire server was sent in its family's own shape. Then images, developer turns and structured output;
routing by capability; bad agent input over HTTP and Kafka; and what reaches ClickHouse (counts and
flags, never content). Last, the same agent traffic through Anthropic's Messages API, with the
official anthropic SDK.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timezone

import anthropic
import httpx
import openai
import pytest

from analytics.store import ChdbStore
from streams.client import ModelManager
from streams.client.reply_client import ReplyClient
from streams.events import LLMRequest, ToolCallFragment
from streams.events.topic_names import DLQ, MAX_HTTP_BODY_BYTES
from tests.conftest import CALLER_KEY, config_file, every_family_at, running_stack
from tests.support.kafka_io import consume_until, produce
from tests.support.provider_server import ProviderServer, _vector

pytestmark = pytest.mark.kafka

# One model of each family that calls functions and reads images, by the router's name.
FAMILY_MODEL = {"openai": "gpt-agent", "anthropic": "claude-agent", "google": "gemini-agent",
                "cohere": "command-agent", "local": "local-agent"}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city now",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
                   "required": ["city"]}}}
# Cheap on purpose: the broker is shared, and the budget keeper's daily openai window with it;
# tests/e2e/test_budgets.py, which runs next, caps that window at one cent.
PRICE = {"input_per_mtok": 0.01, "output_per_mtok": 0.03}
# 1x1 transparent PNG.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()


# One embedding model of each family that has an embeddings API, and how many texts it takes in one call.
EMBED_MODELS = [("embed-openai", "openai", 2048), ("embed-cohere", "cohere", 3), ("embed-google", "google", 100),
                ("embed-local", "local", None)]


def _models(raw: dict) -> None:
    def model(provider: str, api_model: str, **extra: object) -> dict:
        return {"provider": provider, "api_model": api_model, "tier": 2, "capability_class": "advanced",
                "context_length": 128000, "function_calling": True, "vision": True, "price": PRICE, **extra}
    raw["models"] |= {
        "gpt-agent": model("openai", "gpt-agent-wire", structured_output=True),
        "claude-agent": model("anthropic", "claude-agent-wire"),
        "gemini-agent": model("google", "gemini-agent-wire", structured_output=True),
        "command-agent": model("cohere", "command-agent-wire", structured_output=True),
        "local-agent": model("local", "local-agent-wire"),
        "no-tools": {**model("local", "no-tools-wire"), "function_calling": False, "vision": False},
        **{name: {"provider": family, "api_model": f"{name}-wire", "tier": 3, "capability_class": "embedding",
                  "context_length": 8192, "embedding_dimensions": 8, "max_inputs": inputs, "price": PRICE}
           for name, family, inputs in EMBED_MODELS},
    }
    raw["routing_strategy"]["embeddings"] = {"primary": "embed-openai", "fallback": ["embed-cohere"]}


@pytest.fixture(scope="module")
def server():
    with ProviderServer() as provider:
        yield provider


@pytest.fixture(scope="module")
def dev(kafka_bootstrap, server, tmp_path_factory):
    data = tmp_path_factory.mktemp("agent-traffic")
    with running_stack(data, kafka_bootstrap, HUGAI_CONFIG=str(config_file(data, _models)), HUGAI_CALLER_KEY=CALLER_KEY,
                       **every_family_at(server)) as stack:
        stack.started_at = datetime.now(timezone.utc)
        yield stack


def _sdk(dev) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{dev.http_url}/v1", api_key=CALLER_KEY, max_retries=0, timeout=60)


def _marker() -> str:
    return f"m{uuid.uuid4().hex[:10]}"  # every prompt differs: no cache hit, no deduplication


def _sent(server: ProviderServer, marker: str) -> list[dict]:
    """The bodies the wire server was sent for the requests that carry `marker`, in order."""
    return [body for body in server.calls if marker in json.dumps(body)]


async def _completion(sdk: openai.AsyncOpenAI, stream: bool, **kwargs: object) -> tuple[str, list[dict], str]:
    """(text, tool calls as the SDK assembled them, finish_reason), plain or streamed."""
    if not stream:
        done = await sdk.chat.completions.create(**kwargs)
        message = done.choices[0].message
        calls = [c.model_dump(exclude_none=True) for c in message.tool_calls or []]
        return message.content or "", calls, done.choices[0].finish_reason
    chunks = [c async for c in await sdk.chat.completions.create(stream=True, **kwargs)]
    text, calls, finish = "", {}, None
    for chunk in chunks:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for piece in choice.delta.tool_calls or []:
                call = calls.setdefault(piece.index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                call["id"] = piece.id or call["id"]
                call["function"]["name"] += piece.function.name or ""
                call["function"]["arguments"] += piece.function.arguments or ""
    return text, [calls[i] for i in sorted(calls)], finish


def _tools_as_sent(family: str, body: dict) -> list[tuple[str, dict]]:
    if family == "anthropic":
        return [(t["name"], t["input_schema"]) for t in body["tools"]]
    if family == "google":
        return [(d["name"], d["parametersJsonSchema"]) for d in body["tools"][0]["functionDeclarations"]]
    return [(t["function"]["name"], t["function"]["parameters"]) for t in body["tools"]]


def _result_as_sent(family: str, body: dict, call_id: str) -> object:
    """The tool result the second turn carried, in the family's shape, found by its call."""
    if family == "anthropic":
        return next(b["content"] for b in body["messages"][-1]["content"] if b["type"] == "tool_result"
                    and b["tool_use_id"] == call_id)
    if family == "google":
        assert body["contents"][-2]["parts"][0]["functionCall"]["name"] == "get_weather"
        return next(p["functionResponse"]["response"] for p in body["contents"][-1]["parts"]
                    if p["functionResponse"]["name"] == "get_weather")
    last = body["messages"][-1]
    assert last["role"] == "tool" and last["tool_call_id"] == call_id
    return last["content"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("family", list(FAMILY_MODEL))
async def test_a_two_turn_tool_loop_through_the_openai_sdk(dev, server, family, stream):
    sdk, marker = _sdk(dev), _marker()
    ask = [{"role": "user", "content": f"What is the weather in Oslo? {marker}"}]
    text, calls, finish = await _completion(sdk, stream, model=FAMILY_MODEL[family], messages=ask, tools=[WEATHER],
                                            tool_choice="required")
    assert finish == "tool_calls" and len(calls) == 1, (text, calls, finish)
    call = calls[0]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "example", "unit": "c"}
    first = _sent(server, marker)[-1]
    assert _tools_as_sent(family, first) == [("get_weather", WEATHER["function"]["parameters"])]

    history = [*ask, {"role": "assistant", "content": text or None, "tool_calls": calls},
               {"role": "tool", "tool_call_id": call["id"], "content": f"18 degrees, sunny {marker}"}]
    text, calls, finish = await _completion(sdk, stream, model=FAMILY_MODEL[family], messages=history, tools=[WEATHER])
    assert finish == "stop" and calls == []
    assert text.startswith("the tool said: ") and "18 degrees, sunny" in text
    second = _sent(server, marker)[-1]
    sent = _result_as_sent(family, second, call["id"])
    assert sent == ({"result": f"18 degrees, sunny {marker}"} if family == "google" else f"18 degrees, sunny {marker}")


async def test_images_developer_turns_and_structured_output_reach_each_family_in_its_own_shape(dev, server):
    sdk, marker = _sdk(dev), _marker()
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    messages = [{"role": "developer", "content": f"Be brief {marker}"},
                {"role": "user", "content": [{"type": "text", "text": "describe"}, image]}]
    for model in ("gpt-agent", "claude-agent", "gemini-agent"):
        done = await sdk.chat.completions.create(model=model, messages=messages, stop=["END"], seed=7 if model != "claude-agent" else None,
                                                 top_p=0.5)
        assert done.choices[0].finish_reason == "stop"
    openai_body, anthropic_body, gemini_body = _sent(server, marker)
    assert openai_body["messages"][0] == {"role": "developer", "content": f"Be brief {marker}"}
    assert openai_body["messages"][1]["content"][1] == image
    assert (openai_body["stop"], openai_body["seed"], openai_body["top_p"]) == (["END"], 7, 0.5)
    assert anthropic_body["system"] == f"Be brief {marker}"
    assert anthropic_body["messages"][0]["content"][1] == {
        "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    assert (anthropic_body["stop_sequences"], anthropic_body["top_p"]) == (["END"], 0.5)
    assert gemini_body["systemInstruction"] == {"parts": [{"text": f"Be brief {marker}"}]}
    assert gemini_body["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    assert gemini_body["generationConfig"] == {"stopSequences": ["END"], "seed": 7, "topP": 0.5}

    schema = {"type": "object", "properties": {"verdict": {"type": "string"}}, "required": ["verdict"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "review", "schema": schema, "strict": True}}
    marker = _marker()
    for model in ("gpt-agent", "gemini-agent", "command-agent"):
        await sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": marker}], response_format=fmt)
    openai_body, gemini_body, cohere_body = _sent(server, marker)
    assert openai_body["response_format"] == fmt
    assert gemini_body["generationConfig"] == {"responseMimeType": "application/json", "responseJsonSchema": schema}
    assert cohere_body["response_format"] == {"type": "json_object", "json_schema": schema}


async def test_a_family_that_cannot_do_what_is_asked_is_not_sent_it(dev, server):
    sdk, marker = _sdk(dev), _marker()
    fmt = {"type": "json_object"}
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(model="claude-agent", messages=[{"role": "user", "content": marker}],
                                          response_format=fmt)
    assert caught.value.code == "no_model_fits"
    assert "claude-agent: cannot be held to JSON output (response_format json_object)" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(model="claude-agent", messages=[{"role": "user", "content": marker}], seed=3)
    assert "takes no seed" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(model="no-tools", messages=[{"role": "user", "content": marker}],
                                          tools=[WEATHER])
    assert "no-tools: does not call functions (the request has tools)" in caught.value.message
    assert _sent(server, marker) == [], "nothing reached a provider"


@pytest.mark.parametrize(("extra", "param"), [
    ({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
    ({"functions": [WEATHER["function"]]}, "functions"), ({"frequency_penalty": 0.5}, "frequency_penalty"),
    ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
])
async def test_parameters_the_router_does_not_carry_are_refused_by_name(dev, extra, param):
    with pytest.raises(openai.BadRequestError) as caught:
        await _sdk(dev).chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}], **extra)
    assert caught.value.code == "unsupported_parameter" and caught.value.param == param
    assert f"{param}: not supported by this router (" in caught.value.message


async def test_bad_agent_input_over_http_gets_a_400_naming_the_field_and_the_next_request_is_served(dev):
    sdk = _sdk(dev)
    bad_schema = {"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}
    big = base64.b64encode(b"\0" * (5 * 1024 * 1024 + 10)).decode()
    cases = [
        ({"tools": [bad_schema]}, "tools.0.parameters"),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_x", "content": "42"}]},
         "messages.1.tool_call_id: no earlier assistant turn made a call 'call_x'"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {
            "url": f"data:image/png;base64,{big}"}}]}]}, "over the 5242880 byte limit per image"),
        ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}]},
         "messages.0.content.0.type: content parts of type 'input_audio' are not carried"),
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}, "tools": [WEATHER]},
         "tool_choice: no tool is named 'nope'"),
    ]
    for fields, named in cases:
        body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], **fields}
        with pytest.raises(openai.BadRequestError) as caught:
            await sdk.chat.completions.create(**body)
        assert named in caught.value.message, (named, caught.value.message)
    async with httpx.AsyncClient(base_url=dev.http_url, timeout=60) as http:
        huge = await http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {CALLER_KEY}"},
                               content=b'{"model": "auto", "messages": [{"role": "user", "content": "'
                               + b"x" * (MAX_HTTP_BODY_BYTES + 1) + b'"}]}')
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "request_too_large"
    served = await sdk.chat.completions.create(model="auto", messages=[{"role": "user", "content": _marker()}])
    assert served.choices[0].message.content


async def test_tools_route_past_models_that_cannot_call_them_and_bad_kafka_input_is_dead_lettered(dev, server):
    marker = _marker()
    tool = {"name": "get_weather", "parameters": WEATHER["function"]["parameters"]}
    routed = LLMRequest(request_id=f"agent-route-{marker}", task_type="code_generation", preferred_model="no-tools",
                        fallback_models=["gpt-agent"], tools=[tool], prompt=f"weather? {marker}")
    reply = f"test.replies.{marker}"
    bad = [{"request_id": f"agent-bad-{marker}-schema", "task_type": "code_generation", "prompt": "x", "reply_to": reply,
            "tools": [{"name": "f", "parameters": {"type": "string"}}]},
           {"request_id": f"agent-bad-{marker}-orphan", "task_type": "code_generation", "reply_to": reply,
            "messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_9", "content": "1"}]}]
    await produce(dev.bootstrap, "llm.requests", [(None, json.dumps(b).encode()) for b in bad])
    async with ReplyClient(dev.bootstrap) as client:
        answers = await client.call([routed], timeout=60)
    answer = answers[routed.request_id]
    assert answer.status == "ok" and answer.model == "gpt-agent" and answer.finish_reason == "tool_calls"
    assert [c.name for c in answer.tool_calls] == ["get_weather"]
    refusals = await consume_until(dev.bootstrap, reply, lambda ms: len(ms) >= 2)
    reasons = {json.loads(m.value)["request_id"]: json.loads(m.value)["error"] for m in refusals}
    assert {e["code"] for e in reasons.values()} == {"invalid_request"}
    assert "tools.0.parameters" in reasons[bad[0]["request_id"]]["message"]
    assert "messages.1.tool_call_id: no earlier assistant turn made a call 'call_9'" in reasons[bad[1]["request_id"]]["message"]
    letters = await consume_until(dev.bootstrap, DLQ, lambda ms: sum(marker.encode() in m.value for m in ms) >= 2)
    assert sum(marker.encode() in m.value for m in letters) == 2


async def test_an_agent_framework_runs_its_tool_loop_through_the_router_unchanged_but_for_its_base_url(dev, server):
    """openai-agents (PyPI), as its users write it: a function tool, Runner.run, the chat completions model."""
    from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_tracing_disabled

    set_tracing_disabled(True)  # its traces would go to OpenAI's servers
    asked: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city now."""
        asked.append(city)
        return f"18 degrees and sunny in {city}"

    marker = _marker()
    agent = Agent(name="weather", instructions=f"Answer with the tool. {marker}", tools=[get_weather],
                  model=OpenAIChatCompletionsModel(model="gpt-agent", openai_client=_sdk(dev)))
    result = await Runner.run(agent, "What is the weather in Oslo?")
    assert asked == ["example"], "the framework ran the tool the model called"
    assert result.final_output == "the tool said: 18 degrees and sunny in example"
    first, second = _sent(server, marker)
    assert [t["function"]["name"] for t in first["tools"]] == ["get_weather"]
    assert second["messages"][-1]["role"] == "tool" and second["messages"][-1]["content"] == "18 degrees and sunny in example"


async def test_model_manager_runs_a_tool_loop_over_kafka_and_streams_the_call_in_fragments(dev):
    tool = {"name": "get_weather", "parameters": WEATHER["function"]["parameters"]}
    marker = _marker()
    manager = ModelManager(bootstrap=dev.bootstrap)
    try:
        asked = await manager.agenerate(messages=[{"role": "user", "content": f"weather? {marker}"}], tools=[tool],
                                        tool_choice={"name": "get_weather"}, preferred_model="gpt-agent",
                                        task_type="code_generation")
        assert asked.finish_reason == "tool_calls" and [c.name for c in asked.tool_calls] == ["get_weather"]
        call = asked.tool_calls[0]
        answered = await manager.agenerate(task_type="code_generation", tools=[tool], preferred_model="gpt-agent",
                                           messages=[{"role": "user", "content": f"weather? {marker}"},
                                                     {"role": "assistant", "tool_calls": [call.model_dump()]},
                                                     {"role": "tool", "tool_call_id": call.id, "content": "cold"}])
        assert answered.content == "the tool said: cold" and answered.finish_reason == "stop"
        pieces = [p async for p in manager.astream(messages=[{"role": "user", "content": f"again {_marker()}"}],
                                                   tools=[tool], preferred_model="claude-agent",
                                                   task_type="code_generation")]
    finally:
        await manager.aclose()
    fragments = [p for p in pieces if isinstance(p, ToolCallFragment)]
    final = pieces[-1]
    assert len(fragments) >= 2 and fragments[0].id == final.tool_calls[0].id == "toolu_wire_1"
    assert "".join(f.arguments for f in fragments) == final.tool_calls[0].arguments
    assert final.finish_reason == "tool_calls"


# Anthropic's Messages API as a second front door: the official anthropic SDK, with only base_url changed.
# A plain message, a streamed one (text deltas and the final usage) and a tool-use round trip, each served
# once by an Anthropic model and once by another family's (routed like any other request, translated both
# ways); what the wire server was sent is checked in its family's shape. Then bad input in Anthropic's shape.
TOOL = {"name": "get_weather", "description": "The weather in a city now",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
                         "required": ["city"]}}
SERVED_BY = {"anthropic": "claude-agent", "openai": "gpt-agent"}


def _anthropic(dev, key: str = CALLER_KEY) -> anthropic.AsyncAnthropic:  # noqa: ANN001
    return anthropic.AsyncAnthropic(base_url=dev.http_url, api_key=key, max_retries=0, timeout=60)


@pytest.mark.parametrize("family", list(SERVED_BY))
async def test_the_messages_api_a_plain_message_and_a_streamed_one(dev, server, family):
    sdk, marker = _anthropic(dev), _marker()
    asked = [{"role": "user", "content": f"Say hello {marker}"}]
    message = await sdk.messages.create(model=SERVED_BY[family], max_tokens=200, system=f"Be brief {marker}",
                                        messages=asked, stop_sequences=["END"], cache_control={"type": "ephemeral"})
    assert message.type == "message" and message.role == "assistant" and message.stop_reason == "end_turn"
    assert message.model == SERVED_BY[family] and message.content[0].type == "text" and message.content[0].text
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    sent = _sent(server, marker)[-1]
    if family == "anthropic":
        assert (sent["system"], sent["stop_sequences"], sent["max_tokens"]) == (f"Be brief {marker}", ["END"], 200)
    else:
        assert sent["messages"][0] == {"role": "system", "content": f"Be brief {marker}"}
        assert (sent["stop"], sent["max_completion_tokens"]) == (["END"], 200)

    async with sdk.messages.stream(model=SERVED_BY[family], max_tokens=200, messages=asked) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) > 1 and "".join(pieces) == final.content[0].text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0 and final.usage.input_tokens > 0


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("family", list(SERVED_BY))
async def test_the_messages_api_a_tool_use_round_trip(dev, server, family, stream):
    sdk, marker = _anthropic(dev), _marker()
    asked = [{"role": "user", "content": f"What is the weather in Oslo? {marker}"}]

    async def create(**kwargs: object) -> anthropic.types.Message:
        if not stream:
            return await sdk.messages.create(**kwargs)
        async with sdk.messages.stream(**kwargs) as events:
            return await events.get_final_message()

    first = await create(model=SERVED_BY[family], max_tokens=300, messages=asked, tools=[TOOL],
                         tool_choice={"type": "any"})
    assert first.stop_reason == "tool_use"
    [use] = [block for block in first.content if block.type == "tool_use"]
    assert use.name == "get_weather" and use.input == {"city": "example", "unit": "c"} and use.id
    history = [*asked, {"role": "assistant", "content": [block.model_dump() for block in first.content]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                             "content": f"18 degrees, sunny {marker}"}]}]
    second = await create(model=SERVED_BY[family], max_tokens=300, messages=history, tools=[TOOL])
    assert second.stop_reason == "end_turn"
    assert second.content[0].text.startswith("the tool said: ") and "18 degrees, sunny" in second.content[0].text
    sent = _result_as_sent(family, _sent(server, marker)[-1], use.id)
    assert sent == f"18 degrees, sunny {marker}"


async def test_the_messages_api_refuses_bad_input_in_anthropics_error_shape_naming_the_field(dev):
    sdk = _anthropic(dev)
    asked = [{"role": "user", "content": "hi"}]
    with pytest.raises(anthropic.BadRequestError) as no_max:
        await sdk.messages.create(model="auto", messages=asked, max_tokens=anthropic.NOT_GIVEN)
    assert no_max.value.status_code == 400 and no_max.value.body["error"]["type"] == "invalid_request_error"
    assert no_max.value.body["error"]["message"] == "max_tokens: Field required"
    with pytest.raises(anthropic.BadRequestError, match="output_config.effort: effort levels are Anthropic's alone"):
        await sdk.messages.create(model="auto", max_tokens=10, messages=asked, output_config={"effort": "high"})
    with pytest.raises(anthropic.BadRequestError, match="messages.0.content.0.type: content blocks of type 'document'"):
        await sdk.messages.create(model="auto", max_tokens=10, messages=[{"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}]}])
    with pytest.raises(anthropic.BadRequestError, match="unknown model 'claude-9'"):
        await sdk.messages.create(model="claude-9", max_tokens=10, messages=asked)
    with pytest.raises(anthropic.AuthenticationError) as wrong_key:
        await _anthropic(dev, key="not-a-key").messages.create(model="auto", max_tokens=10, messages=asked)
    assert wrong_key.value.body["error"]["type"] == "authentication_error"


def _texts_as_sent(family: str, body: dict) -> list[str]:
    if family == "google":
        return [r["content"]["parts"][0]["text"] for r in body["requests"]]
    return body["texts"] if family == "cohere" else body["input"]


@pytest.mark.parametrize(("model", "family"), [(name, family) for name, family, _ in EMBED_MODELS])
async def test_embeddings_through_the_openai_sdk_from_each_familys_embed_model(dev, server, model, family):
    sdk, marker = _sdk(dev), _marker()
    texts = [f"alpha {marker}", f"beta {marker}"]
    done = await sdk.embeddings.create(model=model, input=texts)  # the SDK asks for base64 and decodes it
    assert done.model == model and [d.index for d in done.data] == [0, 1]
    for text, item in zip(texts, done.data):  # the wire server's numbers, through float32
        assert item.embedding == pytest.approx(_vector(f"{model}-wire", text, 8), abs=1e-6)
    assert done.usage.prompt_tokens > 0
    assert _texts_as_sent(family, _sent(server, marker)[-1]) == texts
    shorter = await sdk.embeddings.create(model=model, input=f"gamma {marker}", dimensions=4, encoding_format="float")
    assert len(shorter.data) == 1 and len(shorter.data[0].embedding) == 4


async def test_embeddings_with_auto_follow_the_route_and_a_fallback_names_its_vector_space(dev, server):
    sdk, marker = _sdk(dev), _marker()
    listed = {m.id async for m in sdk.models.list()}
    assert {name for name, _, _ in EMBED_MODELS} <= listed
    first = await sdk.embeddings.create(model="auto", input=[f"one {marker}"])
    assert first.model == "embed-openai"
    server.failing.add("embed-openai-wire")
    try:
        fallen = await sdk.embeddings.create(model="auto", input=[f"two {marker}"])
    finally:
        server.failing.discard("embed-openai-wire")
    assert fallen.model == "embed-cohere", "the answer names the model whose space its vectors are in"
    assert fallen.data[0].embedding == pytest.approx(_vector("embed-cohere-wire", f"two {marker}", 8), abs=1e-6)


async def test_bad_embedding_input_gets_a_400_naming_the_field(dev):
    sdk = _sdk(dev)
    cases = [({"model": "embed-openai", "input": []}, "input", "the list is empty"),
             ({"model": "embed-cohere", "input": ["a", "b", "c", "d"]}, "input", "embed-cohere takes at most 3"),
             ({"model": "gpt-agent", "input": ["a"]}, "model", "is not an embedding model"),
             ({"model": "embed-openai", "input": [[1, 2, 3]]}, "input", "token arrays are not carried"),
             ({"model": "embed-openai", "input": ["a"], "encoding_format": "int8"}, "encoding_format", "not float or base64")]
    for body, param, message in cases:
        with pytest.raises(openai.BadRequestError) as refused:
            await sdk.embeddings.create(**body)
        assert refused.value.body["param"] == param and message in refused.value.body["message"], body


async def test_model_manager_embeds_over_kafka(dev):
    manager, marker = ModelManager(bootstrap=dev.bootstrap), _marker()
    try:
        done = await manager.aembed(["over", "kafka"], model="embed-google")
        first = await manager.aembed([f"once {marker}"], model="embed-local")
        again = await manager.aembed([f"once {marker}"], model="embed-local")  # the same question: from the cache
    finally:
        await manager.aclose()
    assert (first.cache_hit, again.cache_hit, again.cost_usd) == (False, True, 0.0)
    assert again.embeddings == first.embeddings and len(first.embeddings[0]) == 8
    assert done.model == "embed-google" and len(done.embeddings) == 2
    assert done.embeddings[0] == pytest.approx(_vector("embed-google-wire", "over", 8))
    assert done.usage_estimated is True and done.usage.input_tokens == 2  # Gemini reports none: counted from the text


def test_clickhouse_has_counts_and_flags_and_the_skipped_models_reason_never_content(dev):
    """The last test here: it stops the stack to read embedded ClickHouse."""
    dev.stop()
    store = ChdbStore(dev.settings.chdb_path)
    try:
        requests = store.query("SELECT request_id, tools_offered, tool_calls, images, response_format, finish_reason "
                               "FROM requests FINAL")
        decided = store.query("SELECT request_id, excluded FROM routing_decisions FINAL "
                              "WHERE request_id LIKE 'agent-route-%'")
        attempts = store.query("SELECT provider_finish_reason FROM attempts FINAL WHERE provider = 'anthropic'")
        dumped = json.dumps(store.query("SELECT * FROM requests"), default=str)
    finally:
        store.close()
    with_calls = [r for r in requests if int(r["tool_calls"]) > 0]
    assert len(with_calls) >= 10 and all(int(r["tools_offered"]) == 1 and r["finish_reason"] == "tool_calls"
                                         for r in with_calls)
    assert any(int(r["images"]) == 1 for r in requests)
    assert {"json_schema"} <= {r["response_format"] for r in requests}
    assert {"stop", "tool_calls"} <= {r["finish_reason"] for r in requests}
    assert {"tool_use", "end_turn"} <= {r["provider_finish_reason"] for r in attempts}
    assert len(decided) == 1 and dict(decided[0]["excluded"]) == {
        "no-tools": "does not call functions (the request has tools)"}
    assert "18 degrees, sunny" not in dumped and PNG not in dumped and "get_weather" not in dumped

