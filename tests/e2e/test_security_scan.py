"""After a run with sentinel API keys and sentinel prompt text, neither is in any event we emit,
any log line, or any ClickHouse table (request_logging: metadata_only, the default). Likewise agent
traffic's content: sentinels in tool arguments, tool results and an image.

Exempt by design: llm.requests, where callers put the prompt, and llm.requests.dlq, which keeps a
refused event's bytes so nothing is lost; and the answer itself (on its reply topic, and its shared
copy on llm.cache-entries), which may quote a tool's result back to the caller who sent it.
"""

from __future__ import annotations

import asyncio
import base64
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
TOOL_ARGS, TOOL_RESULT = "ARGS-SENTINEL-3b7f", "RESULT-SENTINEL-91c0"
IMAGE_BYTES = b"\x89PNG\r\n\x1a\nIMAGE-SENTINEL-5d2e"  # what an image's bytes hold, and their base64 on the wire
IMAGE_B64 = base64.b64encode(IMAGE_BYTES).decode()
CONTENT = (TOOL_ARGS, TOOL_RESULT, "IMAGE-SENTINEL-5d2e", IMAGE_B64)


def _agent_requests(run: str) -> list[LLMRequest]:
    """A tool loop's second turn (a call with sentinel arguments, its sentinel result) and an image."""
    tool = {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
    turn = LLMRequest.model_validate({
        "request_id": f"scan-tools-{run}", "task_type": "code_generation", "tools": [tool], "messages": [
            {"role": "user", "content": "look it up"},
            {"role": "assistant", "tool_calls": [{"id": "call_1", "name": "lookup", "arguments": json.dumps({"q": TOOL_ARGS})}]},
            {"role": "tool", "tool_call_id": "call_1", "content": TOOL_RESULT}]})
    image = LLMRequest.model_validate({
        "request_id": f"scan-image-{run}", "task_type": "security_review", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"}, {"type": "image", "url": f"data:image/png;base64,{IMAGE_B64}"}]}]})
    return [turn, image]


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
        agent = ask(dev, _agent_requests(uuid.uuid4().hex[:6]))
        assert {r.status for r in agent.values()} == {"ok"}, agent
        assert any(TOOL_RESULT in (r.content or "") for r in agent.values()), "the tool result reached the wire and back"
        dev.answer_ids = {r.request_id for r in agent.values()}
        over_http = httpx.post(f"{dev.http_url}/v1/chat/completions", timeout=60,
                               headers={"Authorization": f"Bearer {CALLER_KEY}"},
                               json={"model": "auto", "messages": [{"role": "user", "content": f"{prompt} http"}]})
        assert over_http.status_code == 200
        assert any(r.cache_hit for r in answers.values()), "the cache path was taken too"
        dev.stop()  # logs complete, the sink drained, chdb released
        yield dev, prompt


def _is_answer_to(keyed: bytes, request_ids: set[str]) -> bool:
    """An answer to one of `request_ids`, or its shared copy: where a tool's result may be quoted back.
    `keyed` is a record as _all_records gives it, key|value; keys hold no "|"."""
    try:
        record = json.loads(keyed.split(b"|", 1)[1])
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("request_id") in request_ids and (
        "status" in record or "answer" in record)


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


def test_no_tool_argument_tool_result_or_image_in_any_event_but_the_answer(run):
    dev, _ = run
    records = asyncio.run(_all_records(dev.bootstrap))
    answers = sum(_is_answer_to(v, dev.answer_ids) for values in records.values() for v in values)
    assert answers >= 2, "the answers themselves were read (and are the only records exempt)"
    for secret in CONTENT:
        leaks = {topic: n for topic, values in records.items()
                 if (n := sum(secret.encode() in v and not _is_answer_to(v, dev.answer_ids) for v in values))}
        assert not leaks, f"{secret[:12]}... found in {leaks}"


def test_no_secret_or_prompt_text_in_any_log_line(run):
    dev, prompt = run
    logs = {path.name: path.read_text(errors="replace") for path in dev.log_dir.glob("*.log")}
    assert {"worker.log", "sink.log"} <= set(logs)
    for secret in (SENTINEL_KEY, ANTHROPIC_SENTINEL, CALLER_KEY, prompt, *CONTENT):
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
    assert stored == 12
    for secret in (SENTINEL_KEY, ANTHROPIC_SENTINEL, CALLER_KEY, prompt, *CONTENT):
        assert not [t for t, text in dumped.items() if secret in text], secret[:12]
