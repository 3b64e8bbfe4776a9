"""Two worker processes on the real broker share one circuit breaker per model.

The primary of complex_reasoning (gpt-4-turbo, served over HTTP by the test server) fails; its
fallback (claude-3-5-sonnet, simulated) answers. After failure_threshold failures the breaker is
open on both workers; after recovery_timeout one probe, granted to one worker, closes it.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.config import DEFAULT_CONFIG_PATH
from streams.devstack import DevStack
from streams.events import LLMRequest
from streams.reply_client import ReplyClient
from tests.conftest import SENTINEL_KEY, make_stack

pytestmark = pytest.mark.kafka

RECOVERY_S = 4


def cluster_view(dev: DevStack) -> dict[str, dict]:
    views = {}
    for role, port in dev.workers.items():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/cluster", timeout=5) as response:
            views[role] = json.loads(response.read())
    return views


def wait_for(check, what: str, timeout: float = 20.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def ask(dev: DevStack, requests: list[LLMRequest]) -> dict:
    async def call() -> dict:
        async with ReplyClient(dev.bootstrap) as client:
            return await client.call(requests, timeout=60)

    return asyncio.run(call())


@pytest.fixture(scope="module")
def two_workers(kafka_bootstrap: str, provider_server, tmp_path_factory) -> Iterator[DevStack]:  # noqa: ANN001
    data = tmp_path_factory.mktemp("cluster")
    config = Path(data) / "models.yaml"
    config.write_text(DEFAULT_CONFIG_PATH.read_text()
                      + f'\ncircuit_breaker: {{failure_threshold: 5, recovery_timeout: "{RECOVERY_S}s"}}\n')
    dev, patch = make_stack(data, kafka_bootstrap, workers=2, HUGAI_CONFIG=str(config),
                            OPENAI_API_KEY=SENTINEL_KEY, OPENAI_BASE_URL=provider_server.base_url)
    try:
        dev.start()
        yield dev
    finally:
        dev.stop()
        patch.undo()


def test_the_breaker_opens_on_both_workers_fallbacks_answer_and_one_probe_closes_it(two_workers, provider_server):
    dev, run = two_workers, uuid.uuid4().hex[:8]
    primary_calls = lambda: sum(1 for c in provider_server.calls if c.get("model") == "gpt-4-turbo")  # noqa: E731
    provider_server.failing.add("gpt-4-turbo")
    requests = [LLMRequest(request_id=f"cb-{run}-{i}", task_type="complex_reasoning", prompt="think") for i in range(40)]
    responses = ask(dev, requests)
    assert {r.status for r in responses.values()} == {"ok"}
    assert {r.model for r in responses.values()} == {"claude-3-5-sonnet"}, "every request is answered by the fallback"
    failed_first = {r.request_id for r in responses.values() if r.attempts[0].model == "gpt-4-turbo"}
    assert len(failed_first) >= 5

    views = wait_for(lambda: (v := cluster_view(dev)) and all(
        w["breakers"].get("gpt-4-turbo", {}).get("state") == "open" for w in v.values()) and v, "open on both workers")
    lag = {role: w["breakers"]["gpt-4-turbo"]["applied_at"] - w["breakers"]["gpt-4-turbo"]["opened_at"]
           for role, w in views.items()}
    print(f"\n[breaker] opened -> known on each worker after (s): {lag}")
    assert all(0 <= seconds < 1.0 for seconds in lag.values()), lag

    calls_while_open = primary_calls()
    later = [LLMRequest(request_id=f"cb-{run}-open-{i}", task_type="complex_reasoning", prompt="think") for i in range(10)]
    answered = ask(dev, later)
    assert {r.model for r in answered.values()} == {"claude-3-5-sonnet"}
    assert all([a.model for a in r.attempts] == ["claude-3-5-sonnet"] for r in answered.values())
    assert primary_calls() == calls_while_open, "an open breaker sends nothing to its model, on either worker"

    provider_server.failing.discard("gpt-4-turbo")  # the provider recovers
    time.sleep(RECOVERY_S)
    before_probe = primary_calls()
    served_by_primary = None
    for i in range(60):  # one at a time, until the worker granted the probe gets a request
        (response,) = ask(dev, [LLMRequest(request_id=f"cb-{run}-probe-{i}", task_type="complex_reasoning",
                                           prompt="think")]).values()
        assert response.status == "ok"
        if response.model == "gpt-4-turbo":
            served_by_primary = i
            break
        time.sleep(0.1)
    assert served_by_primary is not None, "the probe never went"
    assert primary_calls() - before_probe == 1, "exactly one probe"
    wait_for(lambda: all(w["breakers"]["gpt-4-turbo"]["state"] == "closed" for w in cluster_view(dev).values()),
             "closed on both workers")
    after = ask(dev, [LLMRequest(request_id=f"cb-{run}-after-{i}", task_type="complex_reasoning", prompt="think")
                      for i in range(6)])
    assert {r.model for r in after.values()} == {"gpt-4-turbo"}
