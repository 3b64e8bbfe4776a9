"""The response cache, deduplication and idempotency keys across two workers on the real broker.

The last test kills a worker: keep it last in the module, which shares one stack.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer

from streams.cli.devstack import DevStack
from streams.client.reply_client import ReplyClient
from streams.events import LLMRequest, LLMResponse
from streams.events.request_keys import question_partition
from streams.events.topic_names import REQUESTS
from streams.kafka.admin import partitions_of
from tests.conftest import SENTINEL_KEY, config_file, running_stack
from tests.support.stack_io import ask

pytestmark = pytest.mark.kafka

TTL_S = 3


@pytest.fixture(scope="module")
def cached(kafka_bootstrap: str, provider_server, tmp_path_factory) -> Iterator[DevStack]:  # noqa: ANN001
    def change(raw: dict) -> None:
        raw["response_caching"] = {"ttl": f"{TTL_S}s"}

    data = tmp_path_factory.mktemp("cache")
    with running_stack(data, kafka_bootstrap, workers=2, HUGAI_CONFIG=str(config_file(data, change)),
                       OPENAI_API_KEY=SENTINEL_KEY, OPENAI_BASE_URL=provider_server.base_url) as dev:
        yield dev


def calls_with(server, text: str) -> int:  # noqa: ANN001
    return sum(1 for body in server.calls if text in str(body.get("messages")))


def one(dev: DevStack, prompt: str, **fields) -> object:  # noqa: ANN003
    (response,) = ask(dev, [LLMRequest(request_id=uuid.uuid4().hex, task_type="code_generation", prompt=prompt,
                                       **fields)]).values()
    return response


def test_a_repeat_is_a_free_hit_until_the_ttl_then_a_miss(cached, provider_server):
    prompt = f"cache me {uuid.uuid4().hex[:6]}"
    first = one(cached, prompt)
    assert (first.status, first.cache_hit, first.model) == ("ok", False, "gpt-4-turbo") and first.cost_usd > 0
    again = one(cached, prompt)
    assert (again.cache_hit, again.cost_usd, again.content, again.model) == (True, 0.0, first.content, "gpt-4-turbo")
    assert again.attempts == [] and again.usage == first.usage
    assert calls_with(provider_server, prompt) == 1
    other_tenant = one(cached, prompt, metadata={"tenant": "someone-else"})
    assert not other_tenant.cache_hit, "answers are never shared between tenants"
    time.sleep(TTL_S + 0.5)
    expired = one(cached, prompt)
    assert not expired.cache_hit and expired.cost_usd > 0
    assert calls_with(provider_server, prompt) == 3


def test_fifty_identical_requests_at_once_make_one_provider_call(cached, provider_server):
    prompt = f"everyone asks this {uuid.uuid4().hex[:6]}"
    requests = [LLMRequest(request_id=f"dup-{i}-{uuid.uuid4().hex[:6]}", task_type="code_generation", prompt=prompt)
                for i in range(50)]
    responses = list(ask(cached, requests).values())
    assert len(responses) == 50 and {r.status for r in responses} == {"ok"}
    assert calls_with(provider_server, prompt) == 1
    assert len({r.content for r in responses}) == 1
    paid = [r for r in responses if not r.cache_hit]
    assert len(paid) == 1 and paid[0].cost_usd > 0 and sum(r.cost_usd for r in responses) == paid[0].cost_usd


def test_a_resend_with_the_same_idempotency_key_gets_the_first_answer_and_pays_nothing(cached, provider_server):
    key = f"order-{uuid.uuid4().hex[:6]}"
    first = one(cached, f"charge card {key}", metadata={"idempotency_key": key})
    resent = one(cached, f"charge card {key} (retry)", metadata={"idempotency_key": key})
    assert first.status == "ok" and not first.cache_hit
    assert (resent.cache_hit, resent.cost_usd, resent.content) == (True, 0.0, first.content)
    assert calls_with(provider_server, f"charge card {key}") == 1


def partition_count(dev: DevStack) -> int:
    return len(asyncio.run(partitions_of(dev.bootstrap, [REQUESTS])))


async def _send_elsewhere(dev: DevStack, request: LLMRequest, partitions: int) -> tuple[LLMResponse, int]:
    """Publish `request` as a service that keys by request id might: on a partition that is not its
    question's. Returns its answer and the partition it was sent to."""
    async with ReplyClient(dev.bootstrap) as client:
        request = client.prepare(request)
        answer = client._waiting[request.request_id] = asyncio.get_running_loop().create_future()
        elsewhere = (question_partition(request, partitions) + 1) % partitions
        await client._producer.send_and_wait(REQUESTS, request.to_bytes(), key=request.request_id.encode(),
                                             partition=elsewhere)
        return await asyncio.wait_for(answer, 60), elsewhere


async def _partitions_holding(bootstrap: str, request_id: str) -> list[int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await partitions_of(bootstrap, [REQUESTS])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for tp, messages in (await consumer.getmany(timeout_ms=500)).items():
                found.extend(tp.partition for m in messages if request_id.encode() in m.value)
        return sorted(found)
    finally:
        await consumer.stop()


def test_a_request_published_on_another_partition_is_moved_to_its_question_and_shares_its_answer(cached,
                                                                                                 provider_server):
    prompt, partitions = f"sent anywhere {uuid.uuid4().hex[:6]}", partition_count(cached)
    request = LLMRequest(request_id=uuid.uuid4().hex, task_type="code_generation", prompt=prompt)
    first, elsewhere = asyncio.run(_send_elsewhere(cached, request, partitions))
    again = one(cached, prompt)
    assert (first.status, first.cache_hit, again.cache_hit, again.content) == ("ok", False, True, first.content)
    assert calls_with(provider_server, prompt) == 1
    home = question_partition(request, partitions)
    assert asyncio.run(_partitions_holding(cached.bootstrap, first.request_id)) == sorted([elsewhere, home])


def test_answers_outlive_the_worker_that_made_them(cached, provider_server):
    """One idempotency key per partition, so the killed worker made some of the answers: its
    partitions' next owner reads them back from llm.idempotency-entries."""
    keys: dict[int, str] = {}
    partitions = partition_count(cached)
    while len(keys) < partitions:
        key = f"move-{uuid.uuid4().hex[:8]}"
        keys.setdefault(question_partition(LLMRequest(request_id="x", task_type="t", prompt="p",
                                                      metadata={"idempotency_key": key}), partitions), key)
    first = {key: one(cached, f"book {key}", metadata={"idempotency_key": key}) for key in keys.values()}
    assert {(r.status, r.cache_hit) for r in first.values()} == {("ok", False)}
    cached.kill("worker-2")
    after = {key: one(cached, f"book {key} (sent again)", metadata={"idempotency_key": key}) for key in keys.values()}
    assert {key: (r.cache_hit, r.content) for key, r in after.items()} == \
        {key: (True, first[key].content) for key in keys.values()}
    assert [calls_with(provider_server, f"book {key}") for key in keys.values()] == [1] * partitions
