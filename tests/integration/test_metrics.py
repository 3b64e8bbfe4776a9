"""Every seed metric, run on chdb against seeded rows, checked against hand-computed values."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from analytics import ChdbStore, apply_migrations
from analytics.queries import METRICS, UnknownMetric, run_metric
from tests.support.clock import yesterday_at

# The hour under test and the day before it, both relative to now: the tables drop rows older than 7 days.
START = yesterday_at(10)
END = START + timedelta(hours=1)
DAY = START.date().isoformat()
DAY_BEFORE = (START - timedelta(days=1)).date().isoformat()
A, B, C = "gpt-4-turbo", "claude-3-haiku", "claude-3-5-sonnet"


def _request(rid, model, provider, status, attempts, tin, tout, cost, ttft, total, *, day=DAY, task="code_generation",
             **agent):
    return {**agent, "request_id": rid, "created_at": f"{day}T10:00:00Z", "responded_at": f"{day}T10:00:01Z", "task_type": task,
            "agent_context": "test_agent" if model == A else "", "environment": "test", "model": model, "provider": provider,
            "status": status, "attempts": attempts, "fallback_used": attempts > 1 and status == "ok",
            "input_tokens": tin, "output_tokens": tout, "cost_usd": cost, "ttft_ms": ttft, "total_ms": total, "simulated": False}


def _attempt(rid, n, model, status, at, error=""):
    return {"attempt_id": f"{rid}:{n}", "request_id": rid, "attempt": n, "started_at": f"{DAY}T{at}Z",
            "environment": "test", "task_type": "code_generation", "model": model, "provider": "x", "status": status,
            "error_code": error, "latency_ms": 10.0, "simulated": False}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = ChdbStore(tmp_path_factory.mktemp("metrics") / "ch")
    apply_migrations(store)
    store.insert("requests", [
        _request("r1", A, "openai", "ok", 1, 100, 50, 0.0025, 100.0, 600.0, images=1, finish_reason="stop"),
        _request("r2", A, "openai", "ok", 2, 200, 100, 0.005, 200.0, 1200.0, finish_reason="stop"),
        _request("r3", A, "openai", "error", 1, 0, 0, 0.0, None, 50.0),
        _request("r4", B, "anthropic", "ok", 1, 1000, 500, 0.000875, 50.0, 550.0, task="security_review",
                 tools_offered=2, tool_calls=1, finish_reason="tool_calls"),
        _request("r5", A, "openai", "ok", 1, 10, 10, 1.0, 1.0, 2.0, day=DAY_BEFORE),  # outside the range
    ])
    store.insert("attempts", [
        _attempt("r1", 1, A, "ok", "10:00:10"),
        _attempt("r2", 1, C, "error", "10:01:05", "provider_unavailable"),
        _attempt("r2", 2, A, "ok", "10:01:06"),
        _attempt("r3", 1, A, "error", "10:02:00", "provider_unavailable"),
        _attempt("r4", 1, B, "ok", "10:03:00"),
    ])
    store.insert("feedback", [
        {"request_id": "r1", "given_at": f"{DAY}T10:30:00Z", "human_satisfaction_rating": 5,
         "output_relevance_score": 0.9, "task_success": True, "source": "test"},
        {"request_id": "r2", "given_at": f"{DAY}T10:30:00Z", "human_satisfaction_rating": 3,
         "output_relevance_score": 0.5, "task_success": False, "source": "test"},
        {"request_id": "r4", "given_at": f"{DAY}T10:30:00Z", "human_satisfaction_rating": 4,
         "task_success": True, "source": "test"},
    ])
    yield store
    store.close()


def _by_group(store, name, **kw):
    return {row["group"]: row for row in run_metric(store, name, start=START, end=END, **kw)}


def test_latency_metrics(store):
    ttft = _by_group(store, "time_to_first_token")
    # A's successful responses had ttft 100 and 200: mean 150; exact p50 is element floor(2*0.5)=1 -> 200.
    assert (ttft[A]["avg_ms"], ttft[A]["p50_ms"], ttft[A]["p95_ms"], ttft[A]["responses"]) == (150, 200, 200, 2)
    assert ttft[B]["avg_ms"] == 50
    total = _by_group(store, "total_response_time")
    assert (total[A]["avg_ms"], total[A]["p99_ms"]) == (900, 1200)
    tps = _by_group(store, "tokens_per_second")
    # A: 150 output tokens over (600-100 + 1200-200) ms = 1.5 s -> 100/s. B: 500 over 0.5 s -> 1000/s.
    assert tps[A]["tokens_per_second"] == pytest.approx(100) and tps[B]["tokens_per_second"] == pytest.approx(1000)


def test_quality_metrics(store):
    assert _by_group(store, "task_success_rate")[A]["task_success_rate"] == pytest.approx(0.5)
    assert _by_group(store, "task_success_rate")[B]["task_success_rate"] == pytest.approx(1.0)
    relevance = _by_group(store, "output_relevance_score")
    assert relevance[A]["output_relevance_score"] == pytest.approx(0.7) and B not in relevance
    assert _by_group(store, "human_satisfaction_rating")[A]["human_satisfaction_rating"] == pytest.approx(4.0)


def test_reliability_metrics(store):
    errors = _by_group(store, "error_rate")
    assert errors[A]["error_rate"] == pytest.approx(1 / 3) and errors[A]["attempts"] == 3
    assert errors[B]["error_rate"] == 0 and errors[C]["error_rate"] == 1
    uptime = _by_group(store, "uptime_percentage")
    # A was called in minutes 10:00 (ok), 10:01 (ok) and 10:02 (only an outage error): up 2 of 3.
    assert uptime[A]["uptime_percentage"] == pytest.approx(200 / 3) and uptime[A]["minutes"] == 3
    assert uptime[B]["uptime_percentage"] == 100 and uptime[C]["uptime_percentage"] == 0
    fallback = _by_group(store, "fallback_trigger_frequency", by="task_type")
    assert fallback["code_generation"]["fallback_trigger_frequency"] == pytest.approx(1 / 3)
    assert fallback["security_review"]["fallback_trigger_frequency"] == 0


def test_cost_metrics(store):
    cost = _by_group(store, "cost_per_successful_request")
    assert cost[A]["cost_per_successful_request"] == pytest.approx((0.0025 + 0.005) / 2)
    tokens = _by_group(store, "tokens_per_dollar")
    assert tokens[A]["tokens_per_dollar"] == pytest.approx(450 / 0.0075)
    assert tokens[B]["tokens_per_dollar"] == pytest.approx(1500 / 0.000875)
    budget = _by_group(store, "budget_utilization_rate", daily_budgets={"openai": Decimal(500), "anthropic": Decimal(300)})
    assert budget["openai"]["spent_usd"] == pytest.approx(0.0075), "the day before's spend is outside the range"
    assert budget["openai"]["budget_utilization_rate"] == pytest.approx(0.0075 / 500)
    assert budget["anthropic"]["budget_utilization_rate"] == pytest.approx(0.000875 / 300)


def test_grouping_by_agent_and_provider(store):
    assert _by_group(store, "cost_per_successful_request", by="agent_context")["test_agent"]["successes"] == 2
    assert set(_by_group(store, "error_rate", by="agent_context")) == {""}  # attempts here carry no agent


def test_grouping_by_agent_traffic_flags(store):
    cost = _by_group(store, "cost_per_successful_request", by="tools")
    assert (cost["with tools"]["successes"], cost["no tools"]["successes"]) == (1, 2)
    finish = _by_group(store, "total_response_time", by="finish_reason")
    assert (finish["tool_calls"]["responses"], finish["stop"]["responses"]) == (1, 2)
    rating = _by_group(store, "human_satisfaction_rating", by="images")  # a metric joined with feedback
    assert rating["with images"]["human_satisfaction_rating"] == 5
    assert rating["no images"]["human_satisfaction_rating"] == pytest.approx((3 + 4) / 2)
    with pytest.raises(ValueError, match="error_rate is not counted per request, so it cannot be grouped by tools"):
        run_metric(store, "error_rate", start=START, end=END, by="tools")


def test_every_seed_metric_has_a_query():
    seed = {"time_to_first_token", "total_response_time", "tokens_per_second", "task_success_rate",
            "output_relevance_score", "human_satisfaction_rating", "uptime_percentage", "error_rate",
            "fallback_trigger_frequency", "cost_per_successful_request", "tokens_per_dollar", "budget_utilization_rate"}
    assert set(METRICS) == seed


def test_bad_names_are_refused_with_the_choices(store):
    with pytest.raises(UnknownMetric, match="known: time_to_first_token"):
        run_metric(store, "vibes", start=START, end=END)
    with pytest.raises(ValueError, match="choose one of model, provider"):
        run_metric(store, "error_rate", start=START, end=END, by="request_id; DROP TABLE requests")


def test_per_request_tables_expire_after_7_days_and_rollups_are_kept_longer(store):
    tables = {r["name"]: r["create_table_query"] for r in store.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase()")}
    for table in ("requests", "attempts", "routing_decisions", "feedback"):
        assert "+ toIntervalDay(7)" in tables[table], table
    for table in ("model_stats_by_minute", "spend_by_provider_day"):
        assert "+ toIntervalDay(400)" in tables[table], table


def test_trends_read_the_rollups_and_plot_to_a_png(store, tmp_path):
    from analytics.plot import plot_trends
    from analytics.queries import run_trend

    wide_start = START.replace(hour=0) - timedelta(days=1)
    cost = run_trend(store, "cost_by_day", start=wide_start, end=END)
    assert [(r["group"], r["t"], r["value"]) for r in cost] == [
        ("openai", DAY_BEFORE, 1.0), ("anthropic", DAY, 0.000875), ("openai", DAY, 0.0075)]
    latency = {(r["group"], r["t"]): r["value"] for r in run_trend(store, "p95_latency_by_hour", start=START, end=END)}
    # A's responses in the 10:00 hour took 50, 600 and 1200 ms: p95 interpolates to 600 + 0.9 * 600.
    assert latency[(A, f"{DAY} 10:00:00")] == pytest.approx(1140)
    assert latency[(B, f"{DAY} 10:00:00")] == pytest.approx(550)
    path = plot_trends({"cost_by_day": cost, "p95_latency_by_hour": run_trend(store, "p95_latency_by_hour",
                                                                              start=START, end=END)},
                       tmp_path / "trends.png", title="test")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
