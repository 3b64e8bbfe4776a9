"""Cost truth at the source: for every recorded response we keep, the cost we compute from what our
adapter parsed equals genai-prices' price of the usage the recording reports, read without our code
(genai-prices' own extractor where it has one for the API, else the recorded fields by name).
Any billed field an adapter drops (cache reads, cache writes, reasoning) makes the two differ."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price, extract_usage

from providers import ChatRequest, Message, cost_usd, make_client
from tests.integration.wire_helpers import adapter
from tests.support.provider_server import RECORDINGS, ProviderServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = sorted(RECORDINGS.glob("*.json"))
OURS = sorted((FIXTURES / "tool_calls").glob("*.json")) + sorted((FIXTURES / "usage").glob("*.json"))
REQUEST = ChatRequest(model="recorded", messages=(Message("user", "recorded"),))
FAMILY = {"openai": "openai", "anthropic": "anthropic", "gemini": "google", "cohere": "cohere"}


def _load(path: Path) -> tuple[str, dict]:
    """(family, {"response": ...}) from either kind of fixture file."""
    doc = json.loads(path.read_text())
    if "interactions" in doc:
        return FAMILY[path.stem.split("_")[0]], doc["interactions"][0]
    return doc["family"], doc


def _events(body: str) -> list[dict]:
    """The JSON objects of a recorded stream: SSE data lines, or NDJSON lines."""
    found = []
    for line in body.replace("\r\n", "\n").split("\n"):
        line = line.removeprefix("data:").strip()
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def _reported(family: str, body: str, streamed: bool) -> tuple[str, PriceUsage]:
    """(model, usage) as the recording reports them."""
    if not streamed:
        data = json.loads(body)
        if family == "cohere":  # v1: genai-prices reads only v2's usage; billed_units is what is billed
            billed = data["meta"]["billed_units"]
            return "command", PriceUsage(input_tokens=billed["input_tokens"], output_tokens=billed["output_tokens"])
        extracted = extract_usage(data, provider_id=family, **({"api_flavor": "chat"} if family == "openai" else {}))
        return data.get("model") or data.get("modelVersion"), extracted.usage
    events = _events(body)
    if family == "anthropic":  # message_start holds the input counts, message_delta the final output
        start = next(e for e in events if e["type"] == "message_start")["message"]
        usage = {**start["usage"], **{k: v for k, v in events[[e["type"] for e in events].index("message_delta")]
                                       ["usage"].items() if v}}
        return start["model"], extract_usage({"model": start["model"], "usage": usage}, provider_id="anthropic").usage
    if family == "google":  # usageMetadata is cumulative: the last chunk's
        last = [e for e in events if e.get("usageMetadata")][-1]
        return last["modelVersion"], extract_usage(last, provider_id="google").usage
    if family == "cohere":
        end = next(e for e in events if e.get("event_type") == "stream-end")
        billed = end["response"]["meta"]["billed_units"]
        return "command", PriceUsage(input_tokens=billed["input_tokens"], output_tokens=billed["output_tokens"])
    with_usage = [e for e in events if e.get("usage")]
    if not with_usage:  # a stream asked without include_usage: nothing reported, nothing to compare
        return events[0]["model"], PriceUsage()
    return with_usage[-1]["model"], extract_usage(with_usage[-1], provider_id="openai", api_flavor="chat").usage


async def _parsed(family: str, recording: dict, streamed: bool):  # noqa: ANN202
    version = "v1" if family == "cohere" else "v2"
    with ProviderServer(recording=recording) as server:
        async with make_client() as client:
            provider = adapter(family, client, server.root, cohere_version=version)
            if not streamed:
                return await provider.infer(REQUEST)
            return [c async for c in provider.infer_stream(REQUEST)][-1].result


@pytest.mark.parametrize("path", SHARED + OURS, ids=[p.stem for p in SHARED + OURS])
async def test_our_cost_of_a_recorded_response_is_genai_prices_cost_of_its_whole_usage(path):
    family, recording = _load(path)
    headers = recording["response"]["headers"]
    streamed = any(kind in json.dumps(headers) for kind in ("event-stream", "stream+json"))
    model, reported = _reported(family, recording["response"]["body"], streamed)
    result = await _parsed(family, recording, streamed)
    if result.usage_estimated:  # the recording reports no usage: counted from the text, and said so
        assert not reported.__dict__
        return
    expected = Decimal(str(calc_price(reported, model_ref=model, provider_id=family).total_price))
    assert abs(cost_usd(family, model, result.usage) - expected) <= Decimal("1e-9"), (result.usage, reported.__dict__)
    breakdown = json.loads(path.read_text()).get("expected", {})
    for field in ("cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "reasoning_tokens"):
        if field in breakdown:  # fields that change no price for this model are checked by name
            assert getattr(result.usage, field) == breakdown[field], field


def test_the_cache_write_recording_is_priced_above_plain_input():
    """The case LiteLLM and this project once got wrong: cache writes billed at the plain input rate."""
    family, recording = _load(FIXTURES / "usage" / "anthropic_cache_write_and_read.json")
    expected = recording["expected"]
    body = json.loads(recording["response"]["body"])
    reported = extract_usage(body, provider_id="anthropic").usage
    truth = Decimal(str(calc_price(reported, model_ref=body["model"], provider_id=family).total_price))
    as_plain_input = Decimal(str(calc_price(PriceUsage(input_tokens=expected["input_tokens"],
                                                       cache_read_tokens=expected["cached_input_tokens"],
                                                       output_tokens=expected["output_tokens"]),
                                            model_ref=body["model"], provider_id=family).total_price))
    assert truth > as_plain_input  # $3.75 against $3 per million for the 418 written tokens


def test_the_shared_recordings_are_there_to_be_priced():
    assert len(SHARED) >= 8, f"{RECORDINGS} is missing: the recordings live in shared/ beside the checkout"
