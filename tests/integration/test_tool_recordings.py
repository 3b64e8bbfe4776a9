"""Real responses with tool calls, recorded from each provider's API by other public projects (each
fixture names its source), parse into the right tool calls, text, finish reason and usage: plain, and
streamed both whole and in 7-byte writes (so no event boundary is where a reader expects it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from providers import ChatRequest, Message, make_client
from providers.types import ChatResult, Tool
from tests.integration.wire_helpers import adapter
from tests.support.provider_server import ProviderServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tool_calls"
RECORDINGS = sorted(FIXTURES.glob("*.json"))
REQUEST = ChatRequest(model="recorded", messages=(Message("user", "call the tool"),),
                      tools=(Tool("recorded_tool", None, {"type": "object", "properties": {}}),))


class _Trickling(ProviderServer):
    """Serves the recorded stream 7 bytes a write."""

    def respond(self, method: str, path: str, body: dict, auth: str):  # noqa: ANN201
        status, headers, chunks = super().respond(method, path, body, auth)
        if isinstance(chunks, list):
            whole = b"".join(chunks)
            chunks = [whole[i:i + 7] for i in range(0, len(whole), 7)]
        return status, headers, chunks


async def _call(recording: dict, server_type: type[ProviderServer]) -> tuple[ChatResult, list]:
    streamed = "event-stream" in recording["response"]["headers"]["content-type"]
    with server_type(recording=recording) as server:
        async with make_client() as client:
            provider = adapter(recording["family"], client, server.root)
            if not streamed:
                return await provider.infer(REQUEST), []
            pieces, result = [], None
            async for chunk in provider.infer_stream(REQUEST):
                if chunk.result is not None:
                    result = chunk.result
                elif chunk.tool_call is not None:
                    pieces.append(chunk.tool_call)
            assert result is not None
            return result, pieces


@pytest.mark.parametrize("server_type", [ProviderServer, _Trickling], ids=["whole", "7-byte-writes"])
@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
async def test_a_recorded_tool_call_parses_into_its_calls_text_finish_and_usage(path, server_type):
    recording = json.loads(path.read_text())
    expected = recording["expected"]
    result, pieces = await _call(recording, server_type)
    calls = [(c.id, c.name, json.loads(c.arguments)) for c in result.tool_calls]
    assert len(calls) == len(expected["tool_calls"])
    for (got_id, name, args), (want_id, want_name, want_args) in zip(calls, expected["tool_calls"]):
        assert (name, args) == (want_name, want_args)
        # Gemini's calls carry no id: the adapter makes one up for the caller to answer by.
        assert got_id == want_id if want_id is not None else got_id.startswith("call_")
    assert result.content == expected["text"]
    assert (result.finish_reason, result.provider_finish_reason) == (expected["finish_reason"],
                                                                     expected["provider_finish_reason"])
    assert [result.usage.input_tokens, result.usage.output_tokens] == expected["usage"]
    assert result.usage.reasoning_tokens == expected.get("reasoning_tokens", 0)
    assert not result.usage_estimated
    if pieces:  # the fragments a streamed call was relayed in add up to the call, numbered as OpenAI numbers them
        assert {p.index for p in pieces} == set(range(len(calls)))
        for index, (call_id, name, args) in enumerate(calls):
            own = [p for p in pieces if p.index == index]
            assert (own[0].id, own[0].name) == (call_id, name)
            assert json.loads("".join(p.arguments for p in own) or "{}") == args


def test_every_family_with_tools_has_a_plain_and_a_streamed_recording():
    families = {(json.loads(p.read_text())["family"], "stream" in p.stem) for p in RECORDINGS}
    assert families >= {(f, s) for f in ("openai", "anthropic", "google") for s in (False, True)}
    assert all(json.loads(p.read_text())["source"] for p in RECORDINGS), "each fixture names where it was recorded"
