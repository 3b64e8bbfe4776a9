"""ModelManager against the real broker and a running worker, starting with the seed's own examples."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from streams.client import GenerationFailed, ModelManager, ResponseTimeout
from tests.conftest import wire_id

pytestmark = pytest.mark.kafka


def test_the_seeds_three_usage_examples_run_as_written(stack, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", stack.bootstrap)
    # --- the seed's examples; only the import path differs ---
    model_manager = ModelManager()

    response = model_manager.generate(
        prompt="Analyze the following requirements...",
        task_type="requirements_analysis",
        quality_threshold=0.9,
        max_cost_per_request=0.50
    )

    response_2 = model_manager.generate(
        prompt="Generate unit tests for this function...",
        preferred_model="gpt-4-turbo",
        fallback_models=["claude-3-5-sonnet", "gpt-4"],
        agent_context="test_agent",
        performance_requirements={
            "max_latency": 30,  # seconds
            "min_quality": 0.85
        }
    )

    requirements_list = [f"Requirement {i}: the system shall do thing number {i}." for i in range(12)]
    batch_responses = model_manager.batch_generate(
        requests=requirements_list,
        batch_size=10,
        cost_optimization=True,
        parallel_processing=True
    )
    # --- end of the seed's examples ---
    model_manager.close()
    assert response.status == "ok" and response.model == "claude-3-5-sonnet" and response.content
    assert response_2.status == "ok" and response_2.model == "gpt-4-turbo"  # the preferred model, over HTTP
    assert [r.status for r in batch_responses] == ["ok"] * 12


async def test_concurrent_calls_each_get_their_own_answer(stack):
    manager = ModelManager(bootstrap=stack.bootstrap)
    try:
        # The simulated provider says how many words it was sent: a wrong pairing would show.
        responses = await asyncio.gather(*(
            manager.agenerate(" ".join(["word"] * (i + 1)), task_type="security_review") for i in range(20)))
    finally:
        await manager.aclose()
    assert [r.content.split(" answer to a ")[1] for r in responses] == [f"{i + 1}-word prompt." for i in range(20)]
    assert len({r.request_id for r in responses}) == 20


async def test_a_timeout_raises_and_the_late_answer_harms_nothing(stack):
    manager = ModelManager(bootstrap=stack.bootstrap)
    try:
        with pytest.raises(ResponseTimeout, match="no response within 0.001s"):
            await manager.agenerate("hello", task_type="security_review", performance_requirements={"max_latency": 0.001})
        later = await manager.agenerate("hello again", task_type="security_review")
        assert later.status == "ok" and "2-word prompt" in later.content
        with pytest.raises(GenerationFailed) as caught:
            await manager.agenerate("a poem", task_type="poetry")
        assert caught.value.code == "unknown_task_type" and caught.value.response.status == "error"
    finally:
        await manager.aclose()


def test_batch_generate_keeps_input_order_and_reports_failures_in_place(stack):
    items = [f"{'x ' * (i + 1)}".strip() for i in range(9)]
    items[4] = {"prompt": "not routable", "task_type": "poetry"}
    with ModelManager(bootstrap=stack.bootstrap) as manager:
        responses = manager.batch_generate([i if isinstance(i, dict) else {"prompt": i, "task_type": "security_review"}
                                            for i in items], batch_size=3)
    assert len(responses) == 9
    assert responses[4].status == "error" and responses[4].error.code == "unknown_task_type"
    for i, response in enumerate(responses):
        if i != 4:
            assert response.content.endswith(f"a {i + 1}-word prompt."), (i, response.content)


def test_send_prints_the_answer(stack):
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap}
    done = subprocess.run([sys.executable, "-m", "streams.cli", "send", "hello there world", "--task-type", "security_review"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"[simulated {wire_id('claude-3-5-sonnet')}] answer to a 3-word prompt."
    assert "claude-3-5-sonnet via anthropic (simulated)" in done.stderr
    failed = subprocess.run([sys.executable, "-m", "streams.cli", "send", "x", "--task-type", "poetry"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1 and "unknown_task_type" in failed.stderr
