"""Live quality per (model, task type) on chdb: seeded requests and feedback, figures computed by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics import ChdbStore, apply_migrations
from analytics.quality import FeedbackRule, LiveQuality, live_quality
from tests.support.clock import iso, yesterday_at

NOW = yesterday_at(12)  # an injected now: the figures do not depend on the machine's clock
A, B = "gpt-4-turbo", "claude-3-5-sonnet"


def _request(rid: str, model: str, task: str = "code_generation", status: str = "ok") -> dict:
    at = iso(NOW - timedelta(hours=2))
    return {"request_id": rid, "created_at": at, "responded_at": at, "task_type": task, "agent_context": "",
            "environment": "test", "model": model, "provider": "x", "status": status, "attempts": 1,
            "fallback_used": False, "input_tokens": 10, "output_tokens": 10, "cost_usd": 0.001, "ttft_ms": None,
            "total_ms": 100.0, "simulated": True}


def _feedback(rid: str, hours_ago: float, rating: int | None = None, relevance: float | None = None,
              success: bool | None = None) -> dict:
    return {"request_id": rid, "given_at": iso(NOW - timedelta(hours=hours_ago)), "human_satisfaction_rating": rating,
            "output_relevance_score": relevance, "task_success": success, "source": "test"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = ChdbStore(tmp_path_factory.mktemp("quality") / "ch")
    apply_migrations(store)
    store.insert("requests", [_request("a1", A), _request("a2", A), _request("a3", A, task="security_review"),
                              _request("b1", B), _request("b2", B), _request("failed", A, status="error")])
    store.insert("feedback", [
        _feedback("a1", 0, rating=5, relevance=1.0, success=True),      # score 1.0, weight 1
        _feedback("a2", 1, rating=1),                                     # only a rating: score 0.0, weight 1/2
        _feedback("a3", 0, success=False),                                # another task: 0.0
        _feedback("b1", 3, rating=3, relevance=0.5, success=True),       # first judgment of b1 ...
        _feedback("b1", 2, rating=4, relevance=0.5, success=True),       # ... replaced by the later one
        _feedback("b2", 30, rating=1),                                     # outside the 24 h window
        _feedback("ghost", 0, rating=1),                                   # no such request
        _feedback("failed", 0, rating=1),                                  # a failed request is not judged
    ])
    yield store
    store.close()


def test_judgments_are_normalized_weighted_and_decayed(store):
    # Half-life 1 h: a2's judgment, an hour old, weighs half of a1's.
    rule = FeedbackRule(half_life_s=3600, window_s=24 * 3600, satisfaction=0.5, relevance=0.3, success=0.2)
    figures = {(q.model, q.task_type): q for q in live_quality(store, rule, now=NOW)}
    # a1: (0.5*1 + 0.3*1 + 0.2*1) / 1 = 1.0 at weight 1; a2: 0.0 at weight 0.5 -> 1 / 1.5
    assert figures[(A, "code_generation")] == LiveQuality(A, "code_generation", round(1 / 1.5, 6), 2)
    assert figures[(A, "security_review")] == LiveQuality(A, "security_review", 0.0, 1)
    # b1 judged once, as last judged: (0.5*0.75 + 0.3*0.5 + 0.2*1) / 1 = 0.725; b2 is outside the window
    assert figures[(B, "code_generation")] == LiveQuality(B, "code_generation", 0.725, 1)
    assert set(figures) == {(A, "code_generation"), (A, "security_review"), (B, "code_generation")}


def test_the_weights_decide_what_counts(store):
    ratings_only = FeedbackRule(half_life_s=1e9, window_s=24 * 3600, satisfaction=1.0, relevance=0.0, success=0.0)
    figures = {(q.model, q.task_type): q.quality for q in live_quality(store, ratings_only, now=NOW)}
    assert figures[(A, "code_generation")] == pytest.approx(0.5, abs=1e-5)  # ratings 5 and 1, (almost) equal weight
    # a judgment without any weighted field has no score: a3 gave success only
    assert (A, "security_review") not in figures
