"""Models that exist: at start each worker asks its providers which models our keys may call; a catalog
model the list lacks is reported by name, never called, and its requests go to its fallbacks. A model
that disappears later answers a 404 once, and is out of routing from then on, on every worker."""

from __future__ import annotations

import uuid

import pytest

from streams.config import load_config
from streams.events import LLMRequest
from tests.conftest import SENTINEL_KEY, own_broker, running_stack, wire_id
from tests.support.provider_server import ProviderServer
from tests.support.stack_io import ask, cluster_view, wait_for

pytestmark = pytest.mark.kafka

OPENAI_WIRE_IDS = {spec.api_model for spec in load_config().models.values() if spec.provider == "openai"}


@pytest.fixture(scope="module")
def server():
    with ProviderServer() as provider:
        # The account cannot call complex_reasoning's primary; gpt-4 and gpt-4-turbo share a wire id, so
        # gpt-3.5-turbo is the one taken away later.
        provider.served_models = OPENAI_WIRE_IDS - {wire_id("gpt-4-turbo")}
        yield provider


@pytest.fixture(scope="module")
def dev(server, tmp_path_factory):
    # A broker of its own: what is out of routing is kept on a compacted topic, and the models this
    # module takes out would stay out for every later module on a shared broker.
    with own_broker(tmp_path_factory.mktemp("served-kafka")) as broker, \
            running_stack(tmp_path_factory.mktemp("served"), broker.bootstrap, OPENAI_API_KEY=SENTINEL_KEY,
                          OPENAI_BASE_URL=server.base_url) as stack:
        yield stack


def _called(server: ProviderServer, model: str) -> int:
    return sum(1 for body in server.calls if body.get("model") == model)


def test_a_model_the_list_lacks_is_reported_at_start_never_called_and_its_fallbacks_answer(dev, server):
    wait_for(lambda: "catalog models not served to our keys" in (dev.log_dir / "worker.log").read_text(),
             "the worker's start-up listing")
    log = (dev.log_dir / "worker.log").read_text()
    assert (f"catalog model gpt-4-turbo (openai/{wire_id('gpt-4-turbo')}) is not served to this key: "
            "taken out of routing") in log
    assert "catalog models not served to our keys: gpt-4, gpt-4-turbo" in log, "both names on that wire id"
    run = uuid.uuid4().hex[:6]
    answers = ask(dev, [LLMRequest(request_id=f"served-{run}-{i}", task_type="complex_reasoning", prompt=f"q {i}")
                        for i in range(6)])
    assert {a.model for a in answers.values()} == {"claude-3-5-sonnet"}, "complex_reasoning's fallback answers"
    assert all(len(a.attempts) == 1 for a in answers.values()), "the primary was not even tried"
    assert _called(server, wire_id("gpt-4-turbo")) == 0
    view = cluster_view(dev)["worker"]["breakers"]["gpt-4-turbo"]
    assert view["missing_since"] is not None and view["state"] == "closed"


def test_a_model_that_disappears_answers_one_404_and_is_out_of_routing_from_then_on(dev, server):
    gone = wire_id("gpt-3.5-turbo")
    server.served_models = server.served_models - {gone}  # listed at start, gone now
    run = uuid.uuid4().hex[:6]
    first = ask(dev, [LLMRequest(request_id=f"gone-{run}-0", task_type="code_generation", prompt="x",
                                 preferred_model="gpt-3.5-turbo", fallback_models=["claude-3-haiku"])])
    answer = next(iter(first.values()))
    assert answer.status == "ok" and answer.model == "claude-3-haiku"
    assert [(a.model, a.error_code) for a in answer.attempts] == [("gpt-3.5-turbo", "model_not_found"),
                                                                  ("claude-3-haiku", None)]
    wait_for(lambda: cluster_view(dev)["worker"]["breakers"].get("gpt-3.5-turbo", {}).get("missing_since"),
             "gpt-3.5-turbo out of routing")
    later = ask(dev, [LLMRequest(request_id=f"gone-{run}-{i}", task_type="code_generation", prompt=f"x {i}",
                                 preferred_model="gpt-3.5-turbo", fallback_models=["claude-3-haiku"]) for i in range(1, 5)])
    assert {a.model for a in later.values()} == {"claude-3-haiku"}
    assert _called(server, gone) == 1, "called once, when it answered the 404"
