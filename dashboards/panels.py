"""The panels of both dashboards: what each shows and the SQL behind it (with the plugin's macros).

`columns` is what the panel expects back; the tests run every query on the ClickHouse engine
against seeded data and check exactly these columns come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Panel", "realtime_panels", "trend_panels", "budget_case"]


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # Grafana panel type: timeseries, stat, gauge, table
    sql: str
    columns: tuple[str, ...]
    unit: str = "short"
    description: str = ""
    time_series: bool = False  # the plugin's "time series" format (a time column plus series)


def budget_case(daily_budgets: dict[str, Decimal]) -> str:
    """The daily budget for the row's provider, as SQL: budgets live in config, not in ClickHouse."""
    if not daily_budgets:
        return "0"
    cases = ", ".join(f"provider = '{name}', {float(amount)}" for name, amount in sorted(daily_budgets.items()))
    return f"multiIf({cases}, 0)"


# Panels over attempts or queue-depth samples: rows a worker records only at monitoring_level detailed
# or comprehensive (streams/agents/records.py). The others read requests, the rollups and events.
NEEDS_DETAILED = "Needs monitoring_level detailed or comprehensive (attempts and queue samples)."


def realtime_panels(daily_budgets: dict[str, Decimal]) -> list[Panel]:
    budget = budget_case(daily_budgets)
    return [
        Panel("Active model usage", "timeseries",
              "SELECT $__timeInterval(minute) AS time, model, countMerge(requests) AS requests\n"
              "FROM model_stats_by_minute WHERE $__timeFilter(minute)\nGROUP BY time, model ORDER BY time",
              ("time", "model", "requests"), unit="reqpm", time_series=True,
              description="Requests per interval, by the model that answered."),
        Panel("Cost burn rate, last hour", "stat",
              "SELECT toFloat64(sum(cost_usd)) AS usd_per_hour\nFROM requests FINAL WHERE created_at >= now() - INTERVAL 1 HOUR",
              ("usd_per_hour",), unit="currencyUSD"),
        Panel("Projected end-of-day spend", "stat",
              "SELECT toFloat64(sumIf(cost_usd, created_at >= toStartOfDay(now())))\n"
              "  + toFloat64(sumIf(cost_usd, created_at >= now() - INTERVAL 1 HOUR))\n"
              "    * dateDiff('second', now(), toStartOfDay(now()) + INTERVAL 1 DAY) / 3600 AS projected_usd\n"
              "FROM requests FINAL WHERE created_at >= least(toStartOfDay(now()), now() - INTERVAL 1 HOUR)",
              ("projected_usd",), unit="currencyUSD",
              description="Today's spend so far plus the last hour's burn rate for the rest of the day (UTC)."),
        Panel("Provider health", "table",
              "SELECT provider, round(countIf(status != 'ok') / count(), 4) AS error_rate, count() AS calls,\n"
              "       countIf(error_code IN ('provider_unavailable', 'provider_timeout')) AS outage_errors\n"
              "FROM attempts FINAL WHERE $__timeFilter(started_at)\nGROUP BY provider ORDER BY provider",
              ("provider", "error_rate", "calls", "outage_errors"), unit="percentunit",
              description=f"Every provider call, retries included. {NEEDS_DETAILED}"),
        Panel("Open circuit breakers", "table",
              "SELECT model, argMax(state, at) AS state, max(at) AS since\nFROM breaker_events\n"
              "GROUP BY model HAVING state = 'open' ORDER BY model",
              ("model", "state", "since")),
        Panel("Queue depth by provider", "timeseries",
              "SELECT time, series, max(depth) AS depth FROM (\n"
              "  SELECT $__timeInterval(at) AS time, toStartOfInterval(at, INTERVAL 5 second) AS sample,\n"
              "         if(provider = '', '(waiting)', provider) AS series, sum(in_flight + waiting) AS depth\n"
              "  FROM queue_depth WHERE $__timeFilter(at) GROUP BY time, sample, series\n"
              ") GROUP BY time, series ORDER BY time",
              ("time", "series", "depth"), time_series=True,
              description="Calls in flight per provider (all workers), and requests waiting on llm.requests. "
                          + NEEDS_DETAILED),
        Panel("Budget utilization today", "gauge",
              f"SELECT provider, toFloat64(sum(cost_usd)) / {budget} AS utilization\n"
              f"FROM spend_by_provider_day WHERE day = today()\nGROUP BY provider HAVING {budget} > 0 ORDER BY provider",
              ("provider", "utilization"), unit="percentunit"),
    ]


def trend_panels() -> list[Panel]:
    return [
        Panel("Response time p95 by model", "timeseries",
              "SELECT $__timeInterval(minute) AS time, model, quantilesMerge(0.5, 0.95, 0.99)(total_ms)[2] AS p95_ms\n"
              "FROM model_stats_by_minute WHERE $__timeFilter(minute)\nGROUP BY time, model ORDER BY time",
              ("time", "model", "p95_ms"), unit="ms", time_series=True),
        Panel("Quality score by model", "timeseries",
              "SELECT $__timeInterval(f.given_at) AS time, r.model AS model, avg(f.human_satisfaction_rating) AS rating\n"
              "FROM feedback AS f FINAL INNER JOIN requests AS r FINAL ON r.request_id = f.request_id\n"
              "WHERE $__timeFilter(f.given_at) AND f.human_satisfaction_rating IS NOT NULL\n"
              "GROUP BY time, model ORDER BY time",
              ("time", "model", "rating"), time_series=True),
        Panel("Cost per successful request by provider", "timeseries",
              "SELECT $__timeInterval(minute) AS time, provider,\n"
              "       toFloat64(sumMerge(cost_usd)) / greatest(countIfMerge(successes), 1) AS usd_per_success\n"
              "FROM model_stats_by_minute WHERE $__timeFilter(minute)\nGROUP BY time, provider ORDER BY time",
              ("time", "provider", "usd_per_success"), unit="currencyUSD", time_series=True),
        Panel("Provider reliability: error rate", "timeseries",
              "SELECT $__timeInterval(started_at) AS time, provider, countIf(status != 'ok') / count() AS error_rate\n"
              "FROM attempts FINAL WHERE $__timeFilter(started_at)\nGROUP BY time, provider ORDER BY time",
              ("time", "provider", "error_rate"), unit="percentunit", time_series=True, description=NEEDS_DETAILED),
    ]
