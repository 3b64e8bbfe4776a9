"""The seed's performance_tracking metrics, each a named query over a time range and a dimension.

    run_metric(store, "error_rate", start=..., end=..., by="model")
      -> [{"group": "gpt-4-turbo", "error_rate": 0.02, "attempts": 500}, ...]

Definitions (what a number means is part of the contract):
  time_to_first_token          ttft_ms of successful responses: avg, p50, p95
  total_response_time          total_ms of successful responses: avg, p50, p95, p99
  tokens_per_second            output tokens / generation seconds (total - ttft) of successful responses
  task_success_rate            share of responses judged successful in feedback
  output_relevance_score       mean feedback relevance, 0..1
  human_satisfaction_rating    mean feedback rating, 1..5
  uptime_percentage            share of minutes with calls in which the model was not down: a minute is
                               down when it had no success and at least one unavailable/timeout error
  error_rate                   failed provider calls / provider calls
  fallback_trigger_frequency   share of requests that needed more than one attempt
  cost_per_successful_request  all spend / successful requests
  tokens_per_dollar            (input + output tokens) / spend, over priced requests
  budget_utilization_rate      per provider and day: spend / the daily budget (budgets passed in)
uptime_percentage and error_rate read attempts, which a worker records at monitoring_level detailed or
comprehensive only; at basic they have no rows. The others read requests, feedback and the rollups.
Quantiles are exact (quantileExact): the element at position floor(n * level) of the sorted values.

Dimensions: model, provider, task_type and agent_context for every metric; finish_reason,
response_format, tools (with tools / no tools) and images (with images / no images) for the metrics
over requests: agent traffic's counts and flags (the tools and images themselves are never stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from analytics.store import Store

__all__ = ["METRICS", "TRENDS", "DIMENSIONS", "Metric", "run_metric", "run_trend", "UnknownMetric"]

# Every metric can be grouped by these columns, which requests and attempts both have.
_SHARED = ("model", "provider", "task_type", "agent_context")
# Only the metrics over requests: what agent traffic adds to a request, as the SQL expression to group by.
# Unqualified: the feedback table these metrics may join holds none of these columns.
_PER_REQUEST = {
    "finish_reason": "finish_reason",
    "response_format": "response_format",
    "tools": "if(tools_offered > 0, 'with tools', 'no tools')",
    "images": "if(images > 0, 'with images', 'no images')",
}
DIMENSIONS = (*_SHARED, *_PER_REQUEST)


class UnknownMetric(KeyError):
    pass


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    sql: str  # with {by}, {start}, {end}
    per_request: bool = False  # over requests (so any dimension), not attempts or rollups
    needs_detailed: bool = False  # reads rows workers record at monitoring_level detailed or comprehensive only


def _requests(select: str, where: str = "1") -> str:
    return (f"SELECT {{by}} AS group, {select} FROM requests FINAL "
            f"WHERE created_at >= {{start}} AND created_at < {{end}} AND {where} GROUP BY group ORDER BY group")


def _with_feedback(select: str, where: str) -> str:
    return (f"SELECT {{by}} AS group, {select} FROM requests AS r FINAL "
            f"INNER JOIN (SELECT * FROM feedback FINAL) AS f ON f.request_id = r.request_id "
            f"WHERE r.created_at >= {{start}} AND r.created_at < {{end}} AND {where} GROUP BY group ORDER BY group")


def _attempts(select: str) -> str:
    return (f"SELECT {{by}} AS group, {select} FROM attempts FINAL "
            f"WHERE started_at >= {{start}} AND started_at < {{end}} GROUP BY group ORDER BY group")


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("time_to_first_token", "time to first token of successful responses, ms",
           _requests("avg(ttft_ms) AS avg_ms, quantileExact(0.5)(ttft_ms) AS p50_ms, "
                     "quantileExact(0.95)(ttft_ms) AS p95_ms, count() AS responses", "status = 'ok' AND ttft_ms IS NOT NULL"),
           per_request=True),
    Metric("total_response_time", "total response time of successful responses, ms",
           _requests("avg(total_ms) AS avg_ms, quantileExact(0.5)(total_ms) AS p50_ms, quantileExact(0.95)(total_ms) AS p95_ms, "
                     "quantileExact(0.99)(total_ms) AS p99_ms, count() AS responses", "status = 'ok'"), per_request=True),
    Metric("tokens_per_second", "output tokens per second of generation",
           _requests("sum(output_tokens) / (sum(total_ms - ifNull(ttft_ms, 0)) / 1000) AS tokens_per_second, "
                     "count() AS responses", "status = 'ok' AND total_ms > ifNull(ttft_ms, 0)"), per_request=True),
    Metric("task_success_rate", "share of responses judged successful in feedback",
           _with_feedback("avg(toFloat64(f.task_success)) AS task_success_rate, count() AS judged", "f.task_success IS NOT NULL"),
           per_request=True),
    Metric("output_relevance_score", "mean feedback relevance, 0..1",
           _with_feedback("avg(f.output_relevance_score) AS output_relevance_score, count() AS judged",
                          "f.output_relevance_score IS NOT NULL"), per_request=True),
    Metric("human_satisfaction_rating", "mean feedback rating, 1..5",
           _with_feedback("avg(f.human_satisfaction_rating) AS human_satisfaction_rating, count() AS judged",
                          "f.human_satisfaction_rating IS NOT NULL"), per_request=True),
    Metric("uptime_percentage", "share of active minutes in which the model was not down (monitoring detailed+)",
           "SELECT group, 100 * countIf(up) / count() AS uptime_percentage, count() AS minutes FROM ("
           "SELECT {by} AS group, toStartOfMinute(started_at) AS minute, "
           "countIf(status = 'ok') > 0 OR countIf(error_code IN ('provider_unavailable', 'provider_timeout')) = 0 AS up "
           "FROM attempts FINAL WHERE started_at >= {start} AND started_at < {end} GROUP BY group, minute"
           ") GROUP BY group ORDER BY group", needs_detailed=True),
    Metric("error_rate", "failed provider calls / provider calls (monitoring detailed+)",
           _attempts("countIf(status != 'ok') / count() AS error_rate, count() AS attempts"), needs_detailed=True),
    Metric("fallback_trigger_frequency", "share of requests that needed more than one attempt",
           _requests("countIf(attempts > 1) / count() AS fallback_trigger_frequency, count() AS requests"), per_request=True),
    Metric("cost_per_successful_request", "all spend / successful requests, USD",
           _requests("toFloat64(sum(cost_usd)) / countIf(status = 'ok') AS cost_per_successful_request, "
                     "countIf(status = 'ok') AS successes"), per_request=True),
    Metric("tokens_per_dollar", "(input + output tokens) / spend, over priced requests",
           _requests("sum(input_tokens + output_tokens) / toFloat64(sum(cost_usd)) AS tokens_per_dollar, "
                     "toFloat64(sum(cost_usd)) AS spend_usd", "cost_usd > 0"), per_request=True),
    Metric("budget_utilization_rate", "per provider and day: spend / daily budget",
           "SELECT provider AS group, day, toFloat64(sum(cost_usd)) AS spent_usd FROM spend_by_provider_day "
           "WHERE day >= toDate({start}) AND day < toDate({end}) + 1 GROUP BY group, day ORDER BY group, day"),
]}


def _literal(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return f"toDateTime64('{moment.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}', 3, 'UTC')"


def run_metric(
    store: Store,
    name: str,
    *,
    start: datetime,
    end: datetime,
    by: str = "model",
    daily_budgets: dict[str, Decimal] | None = None,
) -> list[dict]:
    """Rows with a "group" key (the dimension's value) and the metric's columns."""
    if name not in METRICS:
        raise UnknownMetric(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    if by not in DIMENSIONS:
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(DIMENSIONS)}")
    metric = METRICS[name]
    if by in _PER_REQUEST and not metric.per_request:
        raise ValueError(f"{name} is not counted per request, so it cannot be grouped by {by}; group it by one "
                         f"of {', '.join(_SHARED)}")
    rows = store.query(metric.sql.format(by=_PER_REQUEST.get(by, by), start=_literal(start), end=_literal(end)))
    if name == "budget_utilization_rate":
        budgets = daily_budgets or {}
        for row in rows:
            budget = float(budgets.get(row["group"], 0))
            row["budget_usd"] = budget
            row["budget_utilization_rate"] = row["spent_usd"] / budget if budget else None
    return rows


# Time series for plots, read from the rollups so they reach back past the 7-day request data.
# Each row is {"group", "t", "value"}.
TRENDS: dict[str, Metric] = {m.name: m for m in [
    Metric("cost_by_day", "spend per day by provider, USD",
           "SELECT provider AS group, toString(day) AS t, toFloat64(sum(cost_usd)) AS value FROM spend_by_provider_day "
           "WHERE day >= toDate({start}) AND day <= toDate({end}) GROUP BY group, t ORDER BY t, group"),
    Metric("p95_latency_by_hour", "p95 total response time per hour by model, ms",
           "SELECT model AS group, toString(toStartOfHour(minute)) AS t, "
           "quantilesMerge(0.5, 0.95, 0.99)(total_ms)[2] AS value FROM model_stats_by_minute "
           "WHERE minute >= toStartOfMinute({start}) AND minute < {end} GROUP BY group, t ORDER BY t, group"),
]}


def run_trend(store: Store, name: str, *, start: datetime, end: datetime) -> list[dict]:
    if name not in TRENDS:
        raise UnknownMetric(f"unknown trend {name!r}; known: {', '.join(TRENDS)}")
    return store.query(TRENDS[name].sql.format(start=_literal(start), end=_literal(end)))
