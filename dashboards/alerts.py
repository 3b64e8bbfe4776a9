"""Grafana-managed alert rules: the SQL each evaluates, its threshold, and what ops should do.

Each query returns one row per series: a label column and a numeric value. Grafana reduces
the value (last) and compares it with the threshold; `firing()` applies the same comparison so
tests can check each rule on seeded data.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dashboards.panels import budget_case

__all__ = ["AlertRule", "alert_rules", "RUNBOOK"]

RUNBOOK = "README.md#troubleshooting"


@dataclass(frozen=True)
class AlertRule:
    uid: str
    title: str
    sql: str
    label: str
    value: str
    op: str  # "gt" or "lt", Grafana's threshold evaluator types
    threshold: float
    for_: str
    severity: str
    summary: str
    description: str
    runbook: str

    def firing(self, rows: list[dict]) -> list[str]:
        """The series this rule would fire for, given the query's rows."""
        compare = (lambda v: v > self.threshold) if self.op == "gt" else (lambda v: v < self.threshold)
        return [str(row[self.label]) for row in rows if row[self.value] is not None and compare(float(row[self.value]))]


def alert_rules(daily_budgets: dict[str, Decimal], *, latency_target_ms: float = 10_000,
                quality_drop: float = 0.5) -> list[AlertRule]:
    """`quality_drop`: rating points (1-5 scale) a model's satisfaction on a task may fall, in the last hour
    against its own trailing week, before quality_score_drops fires (quality_feedback.alert_drop)."""
    budget = budget_case(daily_budgets)
    utilization = (f"SELECT provider, toFloat64(sum(cost_usd)) / {budget} AS utilization\n"
                   f"FROM spend_by_provider_day WHERE day = today()\nGROUP BY provider HAVING {budget} > 0")
    return [
        AlertRule("hugai-budget-80", "Daily budget at 80%", utilization, "provider", "utilization", "gt", 0.8, "0s",
                  "warning", "{{ $labels.provider }} has spent over 80% of its daily budget",
                  "Check the LLM operations dashboard's burn rate. Cheaper models for simple tasks, more caching, or "
                  "a stricter budget: see 'High costs'.", f"{RUNBOOK}-high-costs"),
        AlertRule("hugai-budget-100", "Daily budget exhausted", utilization, "provider", "utilization", "gt", 1.0, "0s",
                  "critical", "{{ $labels.provider }} has spent its whole daily budget",
                  "Requests to this provider now fall back or are rejected with budget_exceeded. Decide whether to "
                  "raise the budget or let it hold: see 'High costs'.", f"{RUNBOOK}-high-costs"),
        AlertRule("hugai-budget-threshold", "Budget window at 80% or more",
                  "SELECT budget, max(threshold) AS threshold\n"
                  "FROM budget_events FINAL WHERE window_start >= toStartOfMonth(now()) AND at >= now() - INTERVAL 1 DAY\n"
                  "GROUP BY budget",
                  "budget", "threshold", "gt", 0.79, "0s", "warning",
                  "{{ $labels.budget }} has crossed 80% of its limit in the current window",
                  "Every budget, monthly caps and the total included, reports 50/80/100% once per window. At 100% "
                  "requests fall back to models that fit or are rejected with budget_exceeded: see 'High costs'.",
                  f"{RUNBOOK}-high-costs"),
        AlertRule("hugai-latency-p95", "p95 latency over target",
                  "SELECT model, quantilesMerge(0.5, 0.95, 0.99)(total_ms)[2] AS p95_ms\n"
                  "FROM model_stats_by_minute WHERE minute >= now() - INTERVAL 10 MINUTE GROUP BY model",
                  "model", "p95_ms", "gt", float(latency_target_ms), "5m", "warning",
                  "{{ $labels.model }} p95 latency is over " + f"{latency_target_ms:g} ms",
                  "Check provider status and rate limits on the trends dashboard; consider routing the task to a "
                  "faster model: see 'Poor performance'.", f"{RUNBOOK}-poor-performance"),
        AlertRule("hugai-provider-errors", "Provider outage: error rate",
                  "SELECT provider,\n"
                  "       countIf(error_code IN ('provider_unavailable', 'provider_timeout')) / count() AS outage_rate\n"
                  "FROM attempts FINAL WHERE started_at >= now() - INTERVAL 5 MINUTE\nGROUP BY provider HAVING count() >= 5",
                  "provider", "outage_rate", "gt", 0.5, "2m", "critical",
                  "{{ $labels.provider }} is failing more than half its calls",
                  "Fallbacks are serving; check the provider's status page and our keys and quotas: see "
                  "'Reliability issues'.", f"{RUNBOOK}-reliability-issues"),
        AlertRule("hugai-breaker-open", "Provider outage: circuit breaker open",
                  "SELECT model, toFloat64(argMax(state, at) = 'open') AS open\n"
                  "FROM breaker_events WHERE at >= now() - INTERVAL 1 DAY GROUP BY model",
                  "model", "open", "gt", 0.5, "0s", "critical",
                  "The circuit breaker for {{ $labels.model }} is open",
                  "The model gets no traffic until a probe succeeds; check its provider: see 'Reliability issues'.",
                  f"{RUNBOOK}-reliability-issues"),
        # quality_score_drops: per model and task type, the last hour's satisfaction against the same
        # pair's trailing week; the live figure routing uses moves with the same judgments.
        AlertRule("hugai-quality-drop", "Quality score drop",
                  "SELECT concat(r.model, ' / ', r.task_type) AS model_task,\n"
                  "       avgIf(f.human_satisfaction_rating, f.given_at < now() - INTERVAL 1 HOUR)\n"
                  "     - avgIf(f.human_satisfaction_rating, f.given_at >= now() - INTERVAL 1 HOUR) AS rating_drop\n"
                  "FROM feedback AS f FINAL INNER JOIN requests AS r FINAL ON r.request_id = f.request_id\n"
                  "WHERE f.given_at >= now() - INTERVAL 7 DAY AND f.human_satisfaction_rating IS NOT NULL\n"
                  "GROUP BY model_task HAVING countIf(f.given_at >= now() - INTERVAL 1 HOUR) >= 3\n"
                  "   AND countIf(f.given_at < now() - INTERVAL 1 HOUR) >= 3",
                  "model_task", "rating_drop", "gt", float(quality_drop), "15m", "warning",
                  "{{ $labels.model_task }}: users' rating fell more than " + f"{quality_drop:g}"
                  + " points below its trailing week",
                  "Routing already moves the task off the model once its live quality is under the environment's "
                  "floor (GET /cluster, quality). Read recent judgments with hugai-llm report human_satisfaction_rating "
                  "--by task_type; pin the task to another model (hugai-llm control pin) or review its prompts: see "
                  "'Poor performance'.", f"{RUNBOOK}-poor-performance"),
    ]
