"""The official SDKs keep our test server and our adapters honest.

For each family the SDK talks to the local server: it must parse every answer into its own
types (so the server speaks the real format), and it must send the same request body our
adapter sends for the same request (so our bodies are what the real API accepts).
"""

from __future__ import annotations

import anthropic
import cohere
import openai
from google import genai
from google.genai import types as gtypes

from providers import ChatRequest, Message, make_client
from tests.integration.wire_helpers import KEY, adapter
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
            max_tokens=50)
        ours_streamed = await _ours("openai", server, "gpt-4-turbo", stream=True)
        chunks = [c async for c in await sdk.chat.completions.create(
            model="gpt-4-turbo", messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
            max_tokens=50, stream=True, stream_options={"include_usage": True})]
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
