"""The official SDKs keep our test server and our adapters honest.

For each family the SDK talks to the local server: it must parse every answer into its own
types (so the server speaks the real format), and it must send the same request body our
adapter sends for the same request (so our bodies are what the real API accepts).
"""

from __future__ import annotations

import base64
import json

import anthropic
import cohere
import openai
from google import genai
from google.genai import types as gtypes

from providers import ChatRequest, Message, make_client
from providers.types import ImagePart, TextPart, Tool, ToolCall, ToolChoice
from tests.integration.wire_helpers import KEY, adapter, camel
from tests.support.provider_server import ProviderServer

SYSTEM, USER = "be brief", "Hello World, how are you?"
REQUEST = dict(messages=(Message("system", SYSTEM), Message("user", USER)), max_tokens=50)


async def _ours(family: str, server: ProviderServer, model: str, *, stream: bool = False):  # noqa: ANN202
    async with make_client() as client:
        provider = adapter(family, client, server.root)
        request = ChatRequest(model=model, **REQUEST)
        if stream:
            return [c async for c in provider.infer_stream(request)][-1].result
        return await provider.infer(request)


async def test_openai_sdk():
    with ProviderServer() as server:
        ours = await _ours("openai", server, "gpt-4-turbo")
        sdk = openai.AsyncOpenAI(api_key=KEY, base_url=server.base_url)
        completion = await sdk.chat.completions.create(
            model="gpt-4-turbo", messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
            max_completion_tokens=50)
        ours_streamed = await _ours("openai", server, "gpt-4-turbo", stream=True)
        chunks = [c async for c in await sdk.chat.completions.create(
            model="gpt-4-turbo", messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
            max_completion_tokens=50, stream=True, stream_options={"include_usage": True})]
    assert isinstance(completion, openai.types.chat.ChatCompletion)
    assert completion.choices[0].message.content == ours.content
    assert completion.usage.prompt_tokens == ours.usage.input_tokens
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ours_streamed.content
    assert chunks[-1].usage.completion_tokens == ours_streamed.usage.output_tokens
    assert server.calls[0] == server.calls[1] and server.calls[2] == server.calls[3]


async def test_anthropic_sdk():
    with ProviderServer() as server:
        ours = await _ours("anthropic", server, "claude-3-5-sonnet-20241022")
        sdk = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.root)
        message = await sdk.messages.create(model="claude-3-5-sonnet-20241022", max_tokens=50, system=SYSTEM,
                                            messages=[{"role": "user", "content": USER}])
        ours_streamed = await _ours("anthropic", server, "claude-3-5-sonnet-20241022", stream=True)
        events = [e async for e in await sdk.messages.create(
            model="claude-3-5-sonnet-20241022", max_tokens=50, system=SYSTEM,
            messages=[{"role": "user", "content": USER}], stream=True)]
    assert isinstance(message, anthropic.types.Message)
    assert message.content[0].text == ours.content
    assert (message.usage.input_tokens, message.usage.output_tokens) == (ours.usage.input_tokens, ours.usage.output_tokens)
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    final = next(e for e in events if e.type == "message_delta")
    assert text == ours_streamed.content and final.usage.output_tokens == ours_streamed.usage.output_tokens
    assert server.calls[0] == server.calls[1] and server.calls[2] == server.calls[3]


async def test_google_genai_sdk():
    with ProviderServer() as server:
        ours = await _ours("google", server, "gemini-pro")
        sdk = genai.Client(api_key=KEY, http_options=gtypes.HttpOptions(base_url=server.root, api_version="v1beta"))
        config = gtypes.GenerateContentConfig(system_instruction=SYSTEM, max_output_tokens=50)
        response = await sdk.aio.models.generate_content(model="gemini-pro", contents=USER, config=config)
        ours_streamed = await _ours("google", server, "gemini-pro", stream=True)
        chunks = [c async for c in await sdk.aio.models.generate_content_stream(model="gemini-pro", contents=USER,
                                                                                config=config)]
    assert isinstance(response, gtypes.GenerateContentResponse)
    assert response.text == ours.content
    assert response.usage_metadata.prompt_token_count == ours.usage.input_tokens
    assert "".join(c.text or "" for c in chunks) == ours_streamed.content
    assert chunks[-1].usage_metadata.candidates_token_count == ours_streamed.usage.output_tokens
    ours_body, sdk_body = server.calls[0], server.calls[1]
    assert ours_body["contents"] == sdk_body["contents"]
    assert ours_body["generationConfig"] == sdk_body["generationConfig"]
    assert ours_body["systemInstruction"]["parts"] == sdk_body["systemInstruction"]["parts"]
    assert server.paths[2].endswith(":streamGenerateContent?alt=sse") and server.paths[3] == server.paths[2]


async def test_cohere_sdk():
    with ProviderServer() as server:
        ours = await _ours("cohere", server, "command")
        sdk = cohere.AsyncClientV2(api_key=KEY, base_url=server.root)
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
        response = await sdk.chat(model="command", messages=messages, max_tokens=50)
        ours_streamed = await _ours("cohere", server, "command", stream=True)
        events = [e async for e in sdk.chat_stream(model="command", messages=messages, max_tokens=50)]
    assert response.message.content[0].text == ours.content
    assert response.usage.billed_units.input_tokens == ours.usage.input_tokens
    text = "".join(e.delta.message.content.text for e in events if e.type == "content-delta")
    end = next(e for e in events if e.type == "message-end")
    assert text == ours_streamed.content
    assert end.delta.usage.billed_units.output_tokens == ours_streamed.usage.output_tokens
    assert server.calls[0] == server.calls[1] and server.calls[2] == server.calls[3]


# ---- agent traffic: tools offered, a call made, its result sent back, an image ----

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOL = Tool("get_weather", "The weather in a city", SCHEMA)
PNG = "iVBORw0KGgo="
CALL = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Oslo"}')
ASK = Message("user", (TextPart("weather?"), ImagePart(f"data:image/png;base64,{PNG}")))
FIRST = ChatRequest(model="m", messages=(Message("system", SYSTEM), ASK), tools=(TOOL,), tool_choice=ToolChoice("required"),
                    max_tokens=50)
SECOND = ChatRequest(model="m", messages=(Message("system", SYSTEM), ASK, Message("assistant", "", (CALL,)),
                                          Message("tool", "18 degrees", tool_call_id="call_1")), tools=(TOOL,), max_tokens=50)


async def _ours_agent(family: str, server: ProviderServer, request: ChatRequest):  # noqa: ANN202
    async with make_client() as client:
        return await adapter(family, client, server.root).infer(request)


async def test_openai_sdk_sends_our_tool_bodies_and_reads_the_tool_calls():
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    ask = {"role": "user", "content": [{"type": "text", "text": "weather?"}, image]}
    tool = {"type": "function", "function": {"name": "get_weather", "description": "The weather in a city",
                                             "parameters": SCHEMA}}
    with ProviderServer() as server:
        ours = await _ours_agent("openai", server, FIRST)
        sdk = openai.AsyncOpenAI(api_key=KEY, base_url=server.base_url)
        first = await sdk.chat.completions.create(model="m", messages=[{"role": "system", "content": SYSTEM}, ask],
                                                  tools=[tool], tool_choice="required", max_completion_tokens=50)
        await _ours_agent("openai", server, SECOND)
        await sdk.chat.completions.create(model="m", tools=[tool], max_completion_tokens=50, messages=[
            {"role": "system", "content": SYSTEM}, ask,
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18 degrees"}])
    call = first.choices[0].message.tool_calls[0]
    assert [(c.id, c.name, c.arguments) for c in ours.tool_calls] == [(call.id, call.function.name, call.function.arguments)]
    assert first.choices[0].finish_reason == ours.finish_reason == "tool_calls"
    assert server.calls[0] == server.calls[1] and server.calls[2] == server.calls[3]


async def test_anthropic_sdk_sends_our_tool_bodies_and_reads_the_tool_calls():
    ask = {"role": "user", "content": [{"type": "text", "text": "weather?"}, {
        "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}
    tool = {"name": "get_weather", "description": "The weather in a city", "input_schema": SCHEMA}
    with ProviderServer() as server:
        ours = await _ours_agent("anthropic", server, FIRST)
        sdk = anthropic.AsyncAnthropic(api_key=KEY, base_url=server.root)
        first = await sdk.messages.create(model="m", max_tokens=50, system=SYSTEM, messages=[ask], tools=[tool],
                                          tool_choice={"type": "any"})
        await _ours_agent("anthropic", server, SECOND)
        await sdk.messages.create(model="m", max_tokens=50, system=SYSTEM, tools=[tool], messages=[
            ask, {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "get_weather",
                                                    "input": {"city": "Oslo"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "18 degrees"}]}])
    use = next(b for b in first.content if b.type == "tool_use")
    assert [(c.id, c.name, json.loads(c.arguments)) for c in ours.tool_calls] == [(use.id, use.name, use.input)]
    assert first.stop_reason == ours.provider_finish_reason == "tool_use" and ours.finish_reason == "tool_calls"
    assert server.calls[0] == server.calls[1] and server.calls[2] == server.calls[3]


async def test_google_genai_sdk_sends_our_tool_bodies_and_reads_the_function_calls():
    with ProviderServer() as server:
        ours = await _ours_agent("google", server, FIRST)
        sdk = genai.Client(api_key=KEY, http_options=gtypes.HttpOptions(base_url=server.root, api_version="v1beta"))
        declaration = gtypes.FunctionDeclaration(name="get_weather", description="The weather in a city",
                                                 parameters_json_schema=SCHEMA)
        config = gtypes.GenerateContentConfig(
            system_instruction=SYSTEM, max_output_tokens=50, tools=[gtypes.Tool(function_declarations=[declaration])],
            tool_config=gtypes.ToolConfig(function_calling_config=gtypes.FunctionCallingConfig(mode="ANY")))
        ask = gtypes.Content(role="user", parts=[gtypes.Part(text="weather?"), gtypes.Part.from_bytes(
            data=base64.b64decode(PNG), mime_type="image/png")])
        first = await sdk.aio.models.generate_content(model="m", contents=[ask], config=config)
        await _ours_agent("google", server, SECOND)
        called = gtypes.Part(function_call=gtypes.FunctionCall(name="get_weather", args={"city": "Oslo"}))
        answered = gtypes.Part.from_function_response(name="get_weather", response={"result": "18 degrees"})
        await sdk.aio.models.generate_content(model="m", config=config.model_copy(update={"tool_config": None}), contents=[
            ask, gtypes.Content(role="model", parts=[called]), gtypes.Content(role="user", parts=[answered])])
    call = first.function_calls[0]
    assert [(c.name, json.loads(c.arguments)) for c in ours.tool_calls] == [(call.name, call.args)]
    # The API reads proto field names in either spelling; the SDK sends some snake_case, we send camelCase.
    ours_first, sdk_first, ours_second, sdk_second = (camel(body) for body in server.calls)
    for key in ("contents", "tools", "toolConfig"):
        assert ours_first[key] == sdk_first[key], key
    assert ours_first["systemInstruction"]["parts"] == sdk_first["systemInstruction"]["parts"]
    # A replayed call carries the signature Google documents for calls whose own was not kept, as the
    # literal a recorded request sent (tests/fixtures/tool_calls/README.md); the SDK would base64 bytes.
    replayed = ours_second["contents"][1]["parts"][0]
    assert replayed.pop("thoughtSignature") == "skip_thought_signature_validator"
    for key in ("contents", "tools"):
        assert ours_second[key] == sdk_second[key], key


async def test_cohere_sdk_sends_our_tool_bodies_and_reads_the_tool_calls():
    tool = {"type": "function", "function": {"name": "get_weather", "description": "The weather in a city",
                                             "parameters": SCHEMA}}
    ask = {"role": "user", "content": [{"type": "text", "text": "weather?"},
                                       {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}
    with ProviderServer() as server:
        ours = await _ours_agent("cohere", server, FIRST)
        sdk = cohere.AsyncClientV2(api_key=KEY, base_url=server.root)
        first = await sdk.chat(model="m", messages=[{"role": "system", "content": SYSTEM}, ask], tools=[tool],
                               tool_choice="REQUIRED", max_tokens=50)
        await _ours_agent("cohere", server, SECOND)
        await sdk.chat(model="m", tools=[tool], max_tokens=50, messages=[
            {"role": "system", "content": SYSTEM}, ask,
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {
                "name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18 degrees"}])
    call = first.message.tool_calls[0]
    assert [(c.id, c.name, c.arguments) for c in ours.tool_calls] == [(call.id, call.function.name, call.function.arguments)]
    assert first.finish_reason == ours.provider_finish_reason == "TOOL_CALL"
    assert server.calls[0] == server.calls[1] and server.calls[2] == server.calls[3]
