"""Property-based bad input against the running worker, over Kafka and over HTTP.

Each generated request (wrong types, huge prompts, unknown task types, negative budgets, deeply
nested metadata) gets an answer naming what is wrong, or is served; nothing crashes the worker, and
a valid request right after is served. Events that cannot even be parsed (invalid UTF-8, not JSON)
go to the DLQ with their reason, covered in test_bad_input.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.client.reply_client import ReplyClient
from streams.events import LLMResponse
from tests.conftest import CALLER_KEY

pytestmark = pytest.mark.kafka

SCALARS = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=20))  # JSON carries no NaN or infinity
JUNK = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                          max_size=3), max_leaves=8)
REQUEST = st.fixed_dictionaries(
    {"task_type": st.one_of(st.sampled_from(["code_generation", "poetry", ""]), st.integers(), JUNK)},
    optional={
        "prompt": st.one_of(st.text(max_size=40), st.just("x" * 300_000), st.integers(), JUNK),
        "messages": st.one_of(st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "robot"]),
                                                              "content": st.text(max_size=10)}), max_size=2), JUNK),
        "max_cost_per_request": st.one_of(st.floats(-5, 5), st.text(max_size=4)),
        "quality_threshold": st.floats(-1, 2),
        "max_tokens": st.one_of(st.integers(-3, 3), JUNK),
        "preferred_model": st.one_of(st.sampled_from(["gpt-9", "gpt-4"]), st.integers()),
        "metadata": st.one_of(JUNK, st.integers(20, 400).map(lambda depth: {"deep": _nested(depth)})),
    },
)


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


class Caller:
    """A ReplyClient on a loop of its own, so hypothesis's synchronous examples can use it."""

    def __init__(self, bootstrap: str):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.client = self._run(ReplyClient(bootstrap).start())

    def _run(self, coroutine):  # noqa: ANN001, ANN202
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=90)

    def raw(self, request_id: str, fields: dict) -> LLMResponse:
        """Publish `fields` as they are (no validation on our side), and wait for the answer."""
        body = json.dumps({**fields, "request_id": request_id, "reply_to": self.client.reply_topic}).encode()

        async def send() -> LLMResponse:
            future = asyncio.get_running_loop().create_future()
            self.client._waiting[request_id] = future
            await self.client._producer.send_and_wait("llm.requests", body, key=request_id.encode())
            return await asyncio.wait_for(future, 60)

        return self._run(send())

    def close(self) -> None:
        self._run(self.client.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def caller(stack) -> Iterator[Caller]:  # noqa: ANN001
    made = Caller(stack.bootstrap)
    yield made
    made.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(REQUEST)
def test_every_generated_request_is_answered_and_a_rejection_names_the_problem(caller, fields):
    request_id = f"prop-{uuid.uuid4().hex[:10]}"
    response = caller.raw(request_id, fields)
    assert response.request_id == request_id
    if response.status != "ok":
        assert response.error is not None and response.error.code and response.error.message
        assert response.error.code != "internal_error", response.error.message


def test_the_worker_still_serves_after_the_generated_batch(caller):
    (response,) = [caller.raw(f"prop-good-{uuid.uuid4().hex[:6]}", {"task_type": "code_generation",
                                                                     "prompt": "still there?"})]
    assert response.status == "ok"


BODY = st.fixed_dictionaries({}, optional={
    "model": st.one_of(st.sampled_from(["auto", "gpt-4", "gpt-9"]), JUNK),
    "messages": st.one_of(st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "tool"]),
                                                          "content": st.one_of(st.text(max_size=10), JUNK)}),
                                   max_size=2), JUNK),
    "stream": JUNK, "max_tokens": JUNK, "temperature": JUNK, "metadata": JUNK,
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(BODY)
def test_the_http_endpoint_answers_any_body_with_a_result_or_a_4xx_that_says_why(stack, body):
    response = httpx.post(f"{stack.http_url}/v1/chat/completions", json=body, timeout=60,
                          headers={"Authorization": f"Bearer {CALLER_KEY}"})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["error"]["message"]
    good = httpx.post(f"{stack.http_url}/v1/chat/completions", timeout=60, headers={"Authorization": f"Bearer {CALLER_KEY}"},
                      json={"model": "auto", "messages": [{"role": "user", "content": "ok?"}]})
    assert good.status_code == 200
