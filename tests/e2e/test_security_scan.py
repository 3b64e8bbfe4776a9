"""After a run with sentinel API keys and sentinel prompt text, neither is in any event we emit,
any log line, or any ClickHouse table (request_logging: metadata_only, the default).

Exempt by design: llm.requests, where callers put the prompt, and llm.requests.dlq, which keeps a
refused event's bytes so nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from analytics.store import ChdbStore
from streams.cli.devstack import DevStack
from streams.events import LLMRequest
from tests.conftest import CALLER_KEY, SENTINEL_KEY, running_stack
from tests.support.stack_io import ask

pytestmark = pytest.mark.kafka

ANTHROPIC_SENTINEL = "sk-ant-SENTINEL-do-not-leak-7e21"
EXEMPT = {"llm.requests", "llm.requests.dlq"}


@pytest.fixture(scope="module")
def run(kafka_bootstrap: str, provider_server, tmp_path_factory) -> Iterator[tuple[DevStack, str]]:  # noqa: ANN001
    prompt = f"PROMPT-SENTINEL-{uuid.uuid4().hex}"
    with running_stack(tmp_path_factory.mktemp("scan"), kafka_bootstrap, OPENAI_API_KEY=SENTINEL_KEY,
                       OPENAI_BASE_URL=provider_server.base_url, ANTHROPIC_API_KEY=ANTHROPIC_SENTINEL,
                       ANTHROPIC_BASE_URL=provider_server.root, HUGAI_CALLER_KEY=CALLER_KEY) as dev:
        requests = [LLMRequest(request_id=f"scan-{i}-{uuid.uuid4().hex[:6]}", task_type=task, prompt=f"{prompt} {i}")
                    for i, task in enumerate(["code_generation", "requirements_analysis", "security_review"] * 3)]
        requests.append(requests[0].model_copy(update={"request_id": f"scan-again-{uuid.uuid4().hex[:6]}"}))  # a hit
        answers = ask(dev, requests)
        assert {r.status for r in answers.values()} == {"ok"}
        over_http = httpx.post(f"{dev.http_url}/v1/chat/completions", timeout=60,
                               headers={"Authorization": f"Bearer {CALLER_KEY}"},
                               json={"model": "auto", "messages": [{"role": "user", "content": f"{prompt} http"}]})
        assert over_http.status_code == 200
        assert any(r.cache_hit for r in answers.values()), "the cache path was taken too"
        dev.stop()  # logs complete, the sink drained, chdb released
        yield dev, prompt


async def _all_records(bootstrap: str) -> dict[str, list[bytes]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if not t.startswith("__") and t not in EXEMPT]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=f"scan-{uuid.uuid4().hex}")
    await consumer.start()
    found: dict[str, list[bytes]] = {t: [] for t in topics}
    try:
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=1000)
            idle = 0 if batch else idle + 1
            for tp, records in batch.items():
                found[tp.topic] += [(r.key or b"") + b"|" + (r.value or b"") for r in records]
    finally:
        await consumer.stop()
    return found


def test_no_secret_or_prompt_text_in_any_event_we_emit(run):
    dev, prompt = run
    records = asyncio.run(_all_records(dev.bootstrap))
    assert sum(len(v) for v in records.values()) > 50 and "llm.telemetry" in records
    for secret in (SENTINEL_KEY, ANTHROPIC_SENTINEL, CALLER_KEY, prompt):
        leaks = {topic: n for topic, values in records.items() if (n := sum(secret.encode() in v for v in values))}
        assert not leaks, f"{secret[:12]}... found in {leaks}"


def test_no_secret_or_prompt_text_in_any_log_line(run):
    dev, prompt = run
    logs = {path.name: path.read_text(errors="replace") for path in dev.log_dir.glob("*.log")}
    assert {"worker.log", "sink.log"} <= set(logs)
    for secret in (SENTINEL_KEY, ANTHROPIC_SENTINEL, CALLER_KEY, prompt):
        assert not [name for name, text in logs.items() if secret in text], secret[:12]


def test_no_secret_or_prompt_text_in_any_clickhouse_table(run):
    dev, prompt = run
    store = ChdbStore(dev.settings.chdb_path)
    try:
        tables = [r["name"] for r in store.query("SELECT name FROM system.tables WHERE database = currentDatabase() "
                                                 "AND engine NOT IN ('MaterializedView', 'AggregatingMergeTree')")]  # binary states, no text
        dumped = {t: json.dumps(store.query(f"SELECT * FROM {t}"), default=str) for t in tables}
        stored = int(store.query("SELECT count() AS n FROM requests FINAL WHERE request_id LIKE 'scan-%'")[0]["n"])
    finally:
        store.close()
    assert stored == 10
    for secret in (SENTINEL_KEY, ANTHROPIC_SENTINEL, CALLER_KEY, prompt):
        assert not [t for t, text in dumped.items() if secret in text], secret[:12]
