"""The response cache, deduplication and idempotency keys across two workers on the real broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from streams.cli.devstack import DevStack
from streams.events import LLMRequest
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
