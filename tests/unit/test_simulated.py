"""The simulated provider is deterministic, labelled, and picks behaviours from the model name."""

import pytest

from providers import ChatRequest, Message, ProviderUnavailable, SimulatedProvider


def _request(model: str, request_id: str = "r1") -> ChatRequest:
    return ChatRequest(model=model, messages=(Message("user", "four words of prompt"),), request_id=request_id)


async def test_the_same_request_gets_the_same_answer_and_it_says_simulated():
    provider = SimulatedProvider(base_latency_ms=1, jitter_ms=1)
    first, second = await provider.infer(_request("m")), await provider.infer(_request("m"))
    assert first.content == second.content and first.usage == second.usage
    assert first.simulated and "[simulated m]" in first.content


async def test_a_stream_carries_the_same_answer():
    provider = SimulatedProvider(base_latency_ms=1, jitter_ms=1)
    chunks = [c async for c in provider.infer_stream(_request("m"))]
    assert "".join(c.text for c in chunks) == chunks[-1].result.content == (await provider.infer(_request("m"))).content


async def test_error_and_flaky_models_fail_as_named():
    provider = SimulatedProvider(base_latency_ms=0, jitter_ms=0)
    with pytest.raises(ProviderUnavailable):
        await provider.infer(_request("error-model"))
    outcomes = []
    for i in range(40):
        try:
            await provider.infer(_request("flaky-model", request_id=f"r{i}"))
            outcomes.append("ok")
        except ProviderUnavailable:
            outcomes.append("fail")
    assert 5 < outcomes.count("fail") < 35, outcomes


async def test_slow_models_are_ten_times_slower():
    provider = SimulatedProvider(base_latency_ms=2, jitter_ms=0)
    fast, slow = await provider.infer(_request("m")), await provider.infer(_request("slow-m"))
    assert slow.total_ms == pytest.approx(fast.total_ms * 10)
