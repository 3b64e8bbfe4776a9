"""Dashboards and alerts as code, checked against the real ClickHouse engine (chdb).

Every panel and alert query is expanded the way the Grafana ClickHouse plugin expands its
macros, run on seeded data, and checked for the columns its panel expects. Each alert fires on
data that should trip it and stays quiet on healthy data.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import yaml

from analytics import ChdbStore, apply_migrations
from dashboards import alert_rules, build, dashboards, expand, realtime_panels, trend_panels
from dashboards.provisioning import DATASOURCE_UID, DEFAULT_OUT
from tests.support.clock import iso

BUDGETS = {"openai": Decimal(500), "anthropic": Decimal(300)}


def _request(rid: str, model: str, provider: str, cost: float, total_ms: float, at: datetime, status: str = "ok") -> dict:
    return {"request_id": rid, "created_at": iso(at), "responded_at": iso(at), "task_type": "code_generation",
            "environment": "test", "model": model, "provider": provider, "status": status, "attempts": 1,
            "fallback_used": False, "input_tokens": 100, "output_tokens": 50, "cost_usd": cost, "ttft_ms": 50.0,
            "total_ms": total_ms, "simulated": False}


def _attempt(rid: str, provider: str, at: datetime, error: str = "") -> dict:
    return {"attempt_id": f"{rid}:1", "request_id": rid, "attempt": 1, "started_at": iso(at), "environment": "test",
            "task_type": "code_generation", "model": "gpt-4-turbo", "provider": provider,
            "status": "error" if error else "ok", "error_code": error, "latency_ms": 10.0, "simulated": False}


def _feedback(rid: str, rating: int, at: datetime) -> dict:
    return {"request_id": rid, "given_at": iso(at), "human_satisfaction_rating": rating, "source": "test"}


def _seed(store: ChdbStore, *, troubled: bool) -> None:
    """Recent traffic; with troubled=True, every alert's trigger is in it. Times are taken now, at seeding:
    the alerts look back 5 to 10 minutes from the moment they run."""
    NOW = datetime.now(timezone.utc).replace(microsecond=0)  # noqa: N806
    # Today's, even just after midnight UTC: the daily budget alerts and gauges read today() only.
    recent = max(NOW - timedelta(minutes=2), NOW.replace(hour=0, minute=0, second=0))
    spend = {"openai": 450.0 if troubled else 5.0, "anthropic": 350.0 if troubled else 3.0}
    latency = 20_000.0 if troubled else 500.0
    requests = [_request(f"spend-{p}", "gpt-4-turbo" if p == "openai" else "claude-3-haiku", p, cost, latency, recent)
                for p, cost in spend.items()]
    attempts = [_attempt(f"a{i}", "openai", recent, "provider_unavailable" if troubled and i < 4 else "") for i in range(6)]
    feedback = []
    for i in range(3):  # the trailing week, then the last hour
        requests += [_request(f"old-{i}", "claude-3-haiku", "anthropic", 0.001, 400, NOW - timedelta(days=2)),
                     _request(f"new-{i}", "claude-3-haiku", "anthropic", 0.001, 400, recent)]
        feedback += [_feedback(f"old-{i}", 5, NOW - timedelta(days=2)), _feedback(f"new-{i}", 3 if troubled else 5, recent)]
    store.insert("requests", requests)
    store.insert("attempts", attempts)
    store.insert("feedback", feedback)
    store.insert("breaker_events", [
        {"event_id": "b1", "at": iso(recent - timedelta(minutes=1)), "model": "gpt-4-turbo", "state": "open", "reason": "5 failures"},
        *([] if troubled else [{"event_id": "b2", "at": iso(recent), "model": "gpt-4-turbo", "state": "closed", "reason": "probe ok"}]),
    ])
    store.insert("budget_events", [
        {"event_id": f"t{t}", "at": iso(recent), "budget": "provider_caps.openai", "window_start": iso(NOW.replace(day=1,
         hour=0, minute=0, second=0)), "threshold": t, "spent_usd": 8000 * t, "limit_usd": 8000}
        for t in ((0.5, 0.8) if troubled else (0.5,))])
    store.insert("queue_depth", [{"at": iso(recent), "worker": "w1", "provider": "openai", "in_flight": 3, "waiting": 0},
                                 {"at": iso(recent), "worker": "w1", "provider": "", "in_flight": 0, "waiting": 7}])


SEEDED_TABLES = ("requests", "attempts", "feedback", "breaker_events", "queue_depth", "budget_events",
                 "model_stats_by_minute", "spend_by_provider_day")


class SeededStore:
    """One chdb store (a process may open only one embedded path at a time), reseeded on demand."""

    def __init__(self, store: ChdbStore):
        self.store, self.state, self.seeded_at = store, None, 0.0

    def as_(self, *, troubled: bool) -> ChdbStore:
        # Reseed when the data is older than a minute too: the alert windows move with the clock.
        if self.state != troubled or time.monotonic() - self.seeded_at > 60:
            for table in SEEDED_TABLES:
                self.store.command(f"TRUNCATE TABLE {table}")
            _seed(self.store, troubled=troubled)
            self.state, self.seeded_at = troubled, time.monotonic()
        return self.store


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    store = ChdbStore(tmp_path_factory.mktemp("dashboards") / "ch")
    apply_migrations(store)
    yield SeededStore(store)
    store.close()


@pytest.fixture
def troubled(seeded):
    return seeded.as_(troubled=True)


def _run(store: ChdbStore, sql: str) -> list[dict]:
    now = datetime.now(timezone.utc)
    return store.query(expand(sql, start=now - timedelta(hours=1), end=now + timedelta(minutes=1), interval_s=60))


@pytest.mark.parametrize("panel", realtime_panels(BUDGETS) + trend_panels(), ids=lambda p: p.title)
def test_every_panel_query_runs_and_returns_its_columns(panel, troubled):
    rows = _run(troubled, panel.sql)
    assert rows, f"{panel.title}: no rows on seeded data"
    assert tuple(rows[0]) == panel.columns


def test_panel_values_on_seeded_data(troubled):
    by_title = {p.title: p for p in realtime_panels(BUDGETS)}
    gauge = {r["provider"]: r["utilization"] for r in _run(troubled, by_title["Budget utilization today"].sql)}
    assert gauge["openai"] == pytest.approx(450 / 500) and gauge["anthropic"] > 1
    depth = {r["series"]: r["depth"] for r in _run(troubled, by_title["Queue depth by provider"].sql)}
    assert depth == {"openai": 3, "(waiting)": 7}
    assert [r["model"] for r in _run(troubled, by_title["Open circuit breakers"].sql)] == ["gpt-4-turbo"]


EXPECTED_FIRING = {
    "hugai-budget-80": ["anthropic", "openai"],
    "hugai-budget-100": ["anthropic"],
    "hugai-budget-threshold": ["provider_caps.openai"],
    "hugai-latency-p95": ["claude-3-haiku", "gpt-4-turbo"],
    "hugai-provider-errors": ["openai"],
    "hugai-breaker-open": ["gpt-4-turbo"],
    "hugai-quality-drop": ["claude-3-haiku / code_generation"],
}


@pytest.mark.parametrize("rule", alert_rules(BUDGETS), ids=lambda r: r.uid)
def test_each_alert_fires_on_trouble_and_stays_quiet_otherwise(rule, seeded):
    assert sorted(rule.firing(_run(seeded.as_(troubled=True), rule.sql))) == EXPECTED_FIRING[rule.uid]
    assert rule.firing(_run(seeded.as_(troubled=False), rule.sql)) == []


def test_the_quality_drop_is_per_task_and_its_amount_is_configured(seeded):
    # The troubled hour rates claude-3-haiku 3 against 5 the week before: a drop of 2 points.
    [quality] = [r for r in alert_rules(BUDGETS, quality_drop=2.5) if r.uid == "hugai-quality-drop"]
    rows = _run(seeded.as_(troubled=True), quality.sql)
    assert [(r["model_task"], r["rating_drop"]) for r in rows] == [("claude-3-haiku / code_generation", 2.0)]
    assert quality.firing(rows) == []  # 2 points is within a 2.5-point allowance
    assert "2.5 points" in quality.summary


def test_the_checked_in_provisioning_is_what_the_code_builds(tmp_path):
    fresh = build(BUDGETS | {"google": Decimal(200), "cohere": Decimal(100)}, tmp_path)
    for path in fresh:
        relative = path.relative_to(tmp_path)
        assert (DEFAULT_OUT / relative).read_text() == path.read_text(), f"{relative} is stale: run hugai-llm dashboards build"


def test_dashboard_and_alert_json_follow_grafanas_model():
    boards = dashboards(BUDGETS)
    assert {b["uid"] for b in boards.values()} == {"hugai-llm-realtime", "hugai-llm-trends"}
    for board in boards.values():
        assert board["schemaVersion"] >= 36 and board["time"]["to"] == "now"
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))
        for panel in board["panels"]:
            assert panel["type"] in {"timeseries", "stat", "gauge", "table"}
            assert set(panel["gridPos"]) == {"h", "w", "x", "y"} and panel["gridPos"]["w"] <= 24
            (target,) = panel["targets"]
            assert target["datasource"]["uid"] == DATASOURCE_UID and target["rawSql"] and target["refId"] == "A"
    rules = yaml.safe_load((DEFAULT_OUT / "alerting" / "rules.yaml").read_text())["groups"][0]["rules"]
    assert sorted(r["uid"] for r in rules) == sorted(EXPECTED_FIRING)
    for rule in rules:
        assert rule["condition"] == "C" and [d["refId"] for d in rule["data"]] == ["A", "B", "C"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
        assert rule["annotations"]["runbook_url"].startswith("README.md#troubleshooting")
    json.dumps(boards)  # serialisable as Grafana stores it


@pytest.mark.skipif(not os.environ.get("GRAFANA_URL"),
                    reason="no Grafana reachable: set GRAFANA_URL to test publishing (this machine and CI have no Grafana or Docker)")
def test_publishing_twice_updates_and_never_duplicates():
    from grafana_client import GrafanaApi

    from dashboards.publish import publish

    for _ in range(2):
        publish(os.environ["GRAFANA_URL"], token=os.environ.get("GRAFANA_TOKEN"), daily_budgets=BUDGETS,
                clickhouse_host="clickhouse", clickhouse_password="", webhook_url="http://127.0.0.1:9/alerts")
    api = GrafanaApi.from_url(os.environ["GRAFANA_URL"])
    found = api.search.search_dashboards(tag="hugai-llm")
    assert sorted(d["uid"] for d in found) == ["hugai-llm-realtime", "hugai-llm-trends"]
    ours = [r for r in api.alertingprovisioning.get_alertrules_all() if r["uid"].startswith("hugai-")]
    assert sorted(r["uid"] for r in ours) == sorted(EXPECTED_FIRING)
