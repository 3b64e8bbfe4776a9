"""Feedback closes the loop: users' judgment of a model's answers moves routing on every worker.

Two workers. complex_reasoning goes to gpt-4-turbo first, claude-3-5-sonnet after it. Its answers
rated 1/5 (enough of them to be trusted) put gpt-4-turbo under the development profile's quality
floor (0.7), and the task's new requests go to claude on both workers; the same answers rated 5/5
again (the latest verdict per request counts) bring them back. No restart.

A broker of its own: llm.model-quality is compacted, and a figure left on a shared broker would
reroute the later modules' requests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from streams.cli.devstack import DevStack
from streams.events import FeedbackGiven, LLMRequest
from streams.events.topic_names import FEEDBACK
from tests.conftest import config_file, own_broker, running_stack
from tests.support.kafka_io import produce
from tests.support.stack_io import ask, cluster_view, wait_for

pytestmark = pytest.mark.kafka

TASK, PRIMARY, FALLBACK = "complex_reasoning", "gpt-4-turbo", "claude-3-5-sonnet"
MIN_JUDGMENTS = 5


@pytest.fixture(scope="module")
def dev(tmp_path_factory) -> Iterator[DevStack]:  # noqa: ANN001
    def quick_feedback(raw: dict) -> None:
        raw["quality_feedback"] = {"min_judgments": MIN_JUDGMENTS, "refresh": "1s", "half_life": "1h"}

    config = config_file(tmp_path_factory.mktemp("config"), quick_feedback)
    with own_broker(tmp_path_factory.mktemp("quality-kafka")) as broker, \
            running_stack(tmp_path_factory.mktemp("quality"), broker.bootstrap, workers=2,
                          HUGAI_CONFIG=str(config)) as stack:
        yield stack


def _ask_many(dev: DevStack, count: int) -> dict:
    run = uuid.uuid4().hex[:6]
    return ask(dev, [LLMRequest(request_id=f"judged-{run}-{i}", task_type=TASK, prompt=f"reason about {run} {i}")
                     for i in range(count)])


def _rate(dev: DevStack, request_ids: list[str], rating: int) -> None:
    events = [FeedbackGiven(request_id=rid, human_satisfaction_rating=rating, source="test") for rid in request_ids]
    asyncio.run(produce(dev.bootstrap, FEEDBACK, [(e.request_id.encode(), e.to_bytes()) for e in events]))


def _seen_by_every_worker(dev: DevStack, check) -> bool:  # noqa: ANN001
    views = cluster_view(dev)
    return all(check(views[role]["quality"].get(TASK, {}).get(PRIMARY)) for role in dev.workers)


def test_feedback_moves_a_tasks_requests_away_from_a_model_users_rate_low_and_back(dev):
    first = _ask_many(dev, 8)
    assert {r.model for r in first.values()} == {PRIMARY}

    _rate(dev, list(first), 1)
    wait_for(lambda: _seen_by_every_worker(dev, lambda q: q and q["judgments"] >= MIN_JUDGMENTS and q["quality"] < 0.7),
             "both workers to see gpt-4-turbo's live quality fall", timeout=30,
             details=lambda: str({role: view["quality"] for role, view in cluster_view(dev).items()}))
    moved = _ask_many(dev, 12)
    assert {r.model for r in moved.values()} == {FALLBACK}

    _rate(dev, list(first), 5)  # the same answers judged again: the latest verdict counts, once
    wait_for(lambda: _seen_by_every_worker(dev, lambda q: q and q["quality"] == 1.0 and q["judgments"] == len(first)),
             "both workers to see gpt-4-turbo's live quality recover", timeout=30,
             details=lambda: str({role: view["quality"] for role, view in cluster_view(dev).items()}))
    back = _ask_many(dev, 12)
    assert {r.model for r in back.values()} == {PRIMARY}
