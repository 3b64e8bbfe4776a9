"""Kafka -> Faust router -> provider over HTTP -> response on Kafka -> row in ClickHouse, for real."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from analytics import ChdbStore
from providers import Usage, cost_usd
from tests.conftest import SENTINEL_KEY, wire_id
from tests.support.kafka_io import consume_until, produce
from tests.support.stack_io import where_tasks_wait

pytestmark = pytest.mark.kafka

TASKS = ["complex_reasoning", "code_generation", "requirements_analysis", "security_review", "performance_optimization"]
# routing_strategy primaries: the gpt-4-turbo tasks go over HTTP to the OpenAI-format server.
OPENAI_TASKS = {"complex_reasoning", "code_generation", "performance_optimization"}


async def test_200_requests_get_200_responses_and_200_clickhouse_rows(stack, provider_server):
    run = uuid.uuid4().hex[:8]
    calls_before = len(provider_server.calls)
    requests = []
    for i in range(200):
        task = TASKS[i % len(TASKS)]
        # Plain JSON, as a service in any language would write it.
        requests.append({"request_id": f"e2e-{run}-{i}", "task_type": task,
                         "prompt": f"request number {i} for {task}", "metadata": {"tenant": "team-a"}})
    await produce(stack.bootstrap, "llm.requests",
                  [(r["request_id"].encode(), json.dumps(r).encode()) for r in requests])

    ours = lambda m: m.key and m.key.decode().startswith(f"e2e-{run}-")  # noqa: E731
    messages = await consume_until(stack.bootstrap, "llm.responses",
                                   lambda ms: sum(1 for m in ms if ours(m)) >= 200, timeout=120)
    responses = {m.key.decode(): json.loads(m.value) for m in messages if ours(m)}

    # Seen in fresh-clone suite runs until the start-up seek was fixed (tests/e2e/test_startup.py): half unanswered.
    unanswered = {r["request_id"] for r in requests} - set(responses)
    assert not unanswered, f"{len(unanswered)} of 200 unanswered; the worker's tasks wait in:\n{where_tasks_wait(stack)}"
    assert set(responses) == {r["request_id"] for r in requests}
    assert all(r["status"] == "ok" for r in responses.values()), [r for r in responses.values() if r["status"] != "ok"][:3]
    via_http = [r for r in responses.values() if r["provider"] == "openai"]
    assert len(via_http) == sum(1 for r in requests if r["task_type"] in OPENAI_TASKS)
    assert len(provider_server.calls) - calls_before == len(via_http)
    for response in via_http:
        assert response["model"] == "gpt-4-turbo" and response["simulated"] is False
        words = len(next(r for r in requests if r["request_id"] == response["request_id"])["prompt"].split())
        assert response["usage"] == {"input_tokens": words, "output_tokens": 3, "cached_input_tokens": 0,
                                     "cache_write_tokens": 0, "cache_write_1h_tokens": 0, "reasoning_tokens": 0}
        expected = cost_usd("openai", wire_id("gpt-4-turbo"), Usage(input_tokens=words, output_tokens=3))
        assert Decimal(str(response["cost_usd"])) == expected
        assert [a["status"] for a in response["attempts"]] == ["ok"]
    assert all(h == f"Bearer {SENTINEL_KEY}" for h in provider_server.auth_headers)
    assert not any(SENTINEL_KEY.encode() in m.value for m in messages)

    stack.stop()  # the sink flushes and releases chdb's lock
    store = ChdbStore(stack.settings.chdb_path)
    try:
        rows = store.query(
            f"SELECT count() AS n, sum(cost_usd) AS cost, countIf(provider = 'openai') AS http_rows "
            f"FROM requests FINAL WHERE request_id LIKE 'e2e-{run}-%'"
        )[0]
        counts = {t: int(store.query(f"SELECT count() AS n FROM {t} FINAL WHERE request_id LIKE 'e2e-{run}-%'")[0]["n"])
                  for t in ("attempts", "routing_decisions")}
        # metadata_only by default: no prompt or completion text in any table.
        tables = [r["name"] for r in store.query("SELECT name FROM system.tables WHERE database = currentDatabase() "
                                                 "AND engine NOT IN ('MaterializedView', 'AggregatingMergeTree')")]
        dumped = "".join(json.dumps(store.query(f"SELECT * FROM {t}")) for t in tables)
    finally:
        store.close()
    assert int(rows["n"]) == 200
    assert counts == {"attempts": 200, "routing_decisions": 200}
    assert "requests" in tables and "feedback" in tables
    assert "request number 7 for" not in dumped and f"ok from {wire_id('gpt-4-turbo')}" not in dumped
    assert int(rows["http_rows"]) == len(via_http)
    assert float(rows["cost"]) == pytest.approx(sum(r["cost_usd"] for r in responses.values()), abs=1e-9)
    for log_name in ("worker.log", "sink.log"):
        assert SENTINEL_KEY not in (stack.log_dir / log_name).read_text()
