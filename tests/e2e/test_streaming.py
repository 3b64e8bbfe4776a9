"""Token streaming end to end: provider server -> worker -> Kafka -> the openai SDK and ModelManager.

The provider server sends 20 pieces 50 ms apart in each family's own wire format. "Before the last
piece" is checked against the server's own log of what it has written when the first delta arrives:
an order, not a wall-clock figure.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from contextlib import aclosing
from datetime import datetime, timezone

import httpx
import openai
import pytest

from analytics.store import ChdbStore
from streams.client import GenerationFailed, ModelManager
from streams.client.reply_client import ReplyClient
from streams.events import BudgetRequest, LLMRequest, LLMResponse
from streams.events.topic_names import SETTLEMENTS
from tests.conftest import CALLER_KEY, config_file, every_family_at, running_stack
from tests.support.kafka_io import committed_on_topics
from tests.support.provider_server import ProviderServer, StreamLog
from tests.support.stack_io import wait_for

PARTS, GAP_S = 20, 0.05
PIECES = [f"w{i} " for i in range(PARTS)]
# One model of each family, by the router's name.
FAMILY_MODEL = {"openai": "gpt-4", "anthropic": "claude-3-haiku", "google": "gemini-pro", "cohere": "command",
                "local": "mistral"}
PRICE = {"input_per_mtok": 10, "output_per_mtok": 30}


def _models(raw: dict) -> None:
    def model(provider: str, api_model: str) -> dict:
        return {"provider": provider, "api_model": api_model, "tier": 2, "capability_class": "advanced",
                "context_length": 8192, "price": PRICE}
    raw["models"] |= {"breaks-mid-stream": model("openai", "breaks-mid-stream"),
                      "gemini-breaks": model("google", "breaks-mid-stream"),
                      "no-usage": model("openai", "no-usage"),
                      "fails-first": model("openai", "error-500")}


@pytest.fixture(scope="module")
def server():
    with ProviderServer(stream_parts=PARTS, chunk_delay_s=GAP_S) as provider:
        yield provider


@pytest.fixture(scope="module")
def dev(kafka_bootstrap, server, tmp_path_factory):
    data = tmp_path_factory.mktemp("streaming")
    started_at = datetime.now(timezone.utc)
    with running_stack(data, kafka_bootstrap, HUGAI_CONFIG=str(config_file(data, _models)), HUGAI_CALLER_KEY=CALLER_KEY,
                       **every_family_at(server)) as stack:
        stack.started_at = started_at
        yield stack


def _stream_of(server: ProviderServer, marker: str) -> StreamLog:
    found = [log for log in server.streams if marker in log.prompt]
    assert len(found) == 1, f"one provider stream for {marker}, found {len(found)}"
    return found[0]


def _marker() -> str:
    return f"m{uuid.uuid4().hex[:10]}"  # every prompt differs: no cache hit, no deduplication


def _sdk(dev) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{dev.http_url}/v1", api_key=CALLER_KEY, max_retries=0, timeout=60)


@pytest.mark.parametrize("family", list(FAMILY_MODEL))
async def test_the_openai_sdk_sees_many_deltas_and_the_first_before_the_provider_has_finished(dev, server, family):
    marker, deltas, unfinished_at_first = _marker(), [], None
    async with _sdk(dev) as sdk:
        stream = await sdk.chat.completions.create(
            model=FAMILY_MODEL[family], messages=[{"role": "user", "content": f"stream please {marker}"}], stream=True,
            stream_options={"include_usage": True})
        chunks = []
        async for chunk in stream:
            chunks.append(chunk)
            if chunk.choices and chunk.choices[0].delta.content:
                if not deltas:
                    log = _stream_of(server, marker)
                    unfinished_at_first = (not log.finished, log.written)
                deltas.append(chunk.choices[0].delta.content)
    assert unfinished_at_first is not None and unfinished_at_first[0], (
        f"the first delta arrived after the provider wrote its last chunk ({unfinished_at_first})")
    assert len(deltas) >= 10 and "".join(deltas) == "".join(PIECES)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert _stream_of(server, marker).finished


@pytest.mark.parametrize("family", list(FAMILY_MODEL))
async def test_model_manager_astream_yields_deltas_then_the_response(dev, server, family):
    marker, pieces, unfinished_at_first = _marker(), [], None
    manager = ModelManager(bootstrap=dev.bootstrap)
    model = FAMILY_MODEL[family]
    try:
        async with aclosing(manager.astream(f"stream please {marker}", preferred_model=model,
                                            fallback_models=[model], timeout=30)) as stream:
            async for item in stream:
                if isinstance(item, str):
                    if not pieces:
                        unfinished_at_first = not _stream_of(server, marker).finished
                    pieces.append(item)
                else:
                    final = item
    finally:
        await manager.aclose()
    assert unfinished_at_first, "the first delta must reach the caller before the provider's last chunk is written"
    assert len(pieces) >= 10 and "".join(pieces) == final.content == "".join(PIECES)
    assert final.status == "ok" and final.model == model and final.stream_id
    assert final.usage.output_tokens > 0 and not final.usage_estimated
    if family != "local":  # local models are free
        assert final.cost_usd > 0


def test_the_sync_stream_matches_and_closing_it_early_cancels(dev, server):
    marker = _marker()
    with ModelManager(bootstrap=dev.bootstrap) as manager:
        items = list(manager.stream(f"stream please {marker}", preferred_model="gpt-4", fallback_models=["gpt-4"]))
        assert "".join(i for i in items if isinstance(i, str)) == items[-1].content == "".join(PIECES)
        early = _marker()
        stream = manager.stream(f"stream please {early}", preferred_model="gpt-4", fallback_models=["gpt-4"])
        assert [next(stream), next(stream)] == PIECES[:2]
        stream.close()
    wait_for(lambda: _stream_of(server, early).cut, "the provider call to be cut when the caller closed its stream")


async def test_an_http_client_that_hangs_up_cancels_the_provider_call_and_the_tokens_so_far_are_billed(dev, server):
    marker, received = _marker(), []
    body = {"model": "gpt-4", "stream": True, "messages": [{"role": "user", "content": f"hang up on {marker}"}]}
    async with httpx.AsyncClient(timeout=30) as http:
        async with http.stream("POST", f"{dev.http_url}/v1/chat/completions", json=body,
                               headers={"Authorization": f"Bearer {CALLER_KEY}"}) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    delta = json.loads(line[6:])["choices"][0]["delta"]
                    if delta.get("content"):
                        received.append(delta["content"])
                if len(received) == 3:
                    break  # leaving the block closes the connection
    assert received == PIECES[:3]
    wait_for(lambda: _stream_of(server, marker).cut, "the worker to close the provider's stream", timeout=30,
             details=lambda: f"({_stream_of(server, marker)})")
    log = _stream_of(server, marker)
    assert log.written < PARTS, "the provider stopped well before its last piece"


async def test_a_stream_that_breaks_off_ends_with_an_error_and_no_other_models_text(dev, server):
    async with _sdk(dev) as sdk:
        stream = await sdk.chat.completions.create(
            model="breaks-mid-stream", messages=[{"role": "user", "content": f"break {_marker()}"}], stream=True)
        deltas = []
        with pytest.raises(openai.APIError) as caught:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    deltas.append(chunk.choices[0].delta.content)
    assert deltas == PIECES[:5] and "5 streamed pieces" in caught.value.message
    for model in ("breaks-mid-stream", "gemini-breaks"):  # OpenAI's in-stream error; Gemini's cut connection
        manager = ModelManager(bootstrap=dev.bootstrap)
        pieces = []
        try:
            with pytest.raises(GenerationFailed) as failed:
                async with aclosing(manager.astream(f"break {_marker()}", preferred_model=model,
                                                    fallback_models=["gpt-4"], timeout=30)) as events:
                    async for item in events:
                        pieces.append(item)
        finally:
            await manager.aclose()
        response = failed.value.response
        assert pieces == PIECES[:5], "the fallback's text is never spliced on"
        assert failed.value.code == "stream_interrupted" and response.content == "".join(PIECES[:5])
        assert [(a.model, a.status) for a in response.attempts] == [(model, "error")], "not retried, no fallback"
        assert response.cost_usd > 0 and response.usage_estimated


async def test_a_provider_failing_before_its_first_piece_falls_back_and_streams_the_next_model(dev):
    manager = ModelManager(bootstrap=dev.bootstrap)
    try:
        async with aclosing(manager.astream(f"fall back {_marker()}", preferred_model="fails-first",
                                            fallback_models=["gpt-4"], timeout=60)) as events:
            items = [item async for item in events]
    finally:
        await manager.aclose()
    final = items[-1]
    assert final.status == "ok" and final.model == "gpt-4" and "".join(items[:-1]) == "".join(PIECES)
    assert [a.model for a in final.attempts][-1] == "gpt-4" and final.attempts[0].model == "fails-first"


async def test_a_stream_without_usage_is_counted_and_says_so(dev):
    manager = ModelManager(bootstrap=dev.bootstrap)
    try:
        async with aclosing(manager.astream(f"count me {_marker()}", preferred_model="no-usage",
                                            fallback_models=["no-usage"], timeout=30)) as events:
            items = [item async for item in events]
    finally:
        await manager.aclose()
    final = items[-1]
    assert final.usage_estimated and final.content == "".join(PIECES)
    assert final.usage.output_tokens == (len(final.content) + 3) // 4 and final.cost_usd > 0


async def test_a_cancel_through_the_reply_client_leaves_one_billed_answer(dev, server):
    marker = _marker()
    request = LLMRequest(request_id=f"cancel-{marker}", task_type="code_generation", prompt=f"cancel {marker}",
                         preferred_model="gpt-4", fallback_models=["gpt-4"])
    async with ReplyClient(dev.bootstrap) as client:
        async with aclosing(client.stream(request, timeout=30)) as events:
            got = [await anext(events) for _ in range(3)]
    assert got == PIECES[:3]
    wait_for(lambda: _stream_of(server, marker).cut, "the provider call to be cut")


def test_spend_is_equal_three_ways_after_streams_cancels_and_failures(dev):
    """The last test here: this stack's answers against the settlements the workers sent the budget
    keeper for them, and against ClickHouse's rows. (The keeper's totals take in every module's spend on
    the shared broker; tests/e2e/test_budgets.py and test_crash.py check that it applies settlements.)"""
    def settled() -> tuple[dict[str, LLMResponse], float, dict[str, float]] | None:
        answers, billed = asyncio.run(_answers_since(dev)), asyncio.run(_settlements(dev.bootstrap))
        spent = sum(a.cost_usd for a in answers.values())
        cancels = sum(1 for a in answers.values() if a.error and a.error.code == "client_cancelled")
        ours = sum(billed.get(request_id, 0.0) for request_id in answers)
        return (answers, spent, billed) if cancels == 3 and abs(ours - spent) < 1e-9 else None

    def seen() -> str:
        answers, billed = asyncio.run(_answers_since(dev)), asyncio.run(_settlements(dev.bootstrap))
        codes = sorted(a.error.code for a in answers.values() if a.error)
        return (f"({len(answers)} answers ${sum(a.cost_usd for a in answers.values()):.9f}, settled "
                f"${sum(billed.get(r, 0.0) for r in answers):.9f}, errors {codes})")

    answers, spent, billed = wait_for(settled, "the three cancelled answers, and their settlements to equal them",
                                      timeout=60, details=seen)
    assert all(billed.get(r, 0.0) == pytest.approx(a.cost_usd, abs=1e-12) for r, a in answers.items()), \
        "each answer's settlements sum to its cost"
    dev.stop()  # the sink drains what is on the topics, and releases chdb's lock
    store = ChdbStore(dev.settings.chdb_path)
    try:
        rows = {r["request_id"]: r for r in store.query(
            "SELECT request_id, cost_usd, error_code, streamed, usage_estimated, ttft_ms, total_ms FROM requests FINAL")}
    finally:
        store.close()
    assert set(rows) == set(answers), "every answer is in ClickHouse, and nothing else"
    assert sum(float(r["cost_usd"]) for r in rows.values()) == pytest.approx(spent, abs=1e-9)
    cancelled = [r for r in rows.values() if r["error_code"] == "client_cancelled"]
    assert all(float(r["cost_usd"]) > 0 and r["usage_estimated"] and r["streamed"] for r in cancelled), cancelled
    whole = [r for r in rows.values() if r["streamed"] and not r["error_code"]]
    assert len(whole) >= 10
    # TTFT is when the first piece reached the worker: at least 18 of the server's 50 ms gaps came after it.
    assert all(float(r["total_ms"]) - float(r["ttft_ms"]) >= (PARTS - 2) * GAP_S * 1000 for r in whole), whole


async def _settlements(bootstrap: str) -> dict[str, float]:
    """What the workers settled with the budget keeper, by request_id (committed: in the answers' transactions)."""
    billed: dict[str, float] = defaultdict(float)
    for record in await committed_on_topics(bootstrap, SETTLEMENTS):
        settlement = BudgetRequest.model_validate_json(record.value)
        billed[settlement.request_id] += settlement.amount
    return billed


async def _answers_since(dev) -> dict[str, LLMResponse]:
    """The answers on every reply topic given since this module's stack started (the broker is shared,
    and the modules run one after another)."""
    answers = {}
    for record in await committed_on_topics(dev.bootstrap, "llm.replies."):
        if b'"stream_delta"' not in record.value:
            response = LLMResponse.model_validate_json(record.value)
            if response.responded_at >= dev.started_at:
                answers[response.request_id] = response
    return answers
