"""What `hugai-llm replay` reads: the recorded requests of a time range and the figures they show.

Recorded requests, oldest first (ties by request id, so two reads give the same order): what routing
read from each (task, agent, limits, the model asked for, complexity, the token estimate), what it
was billed (tokens), and what happened (model, provider, status, cost, latency, the user's rating).

Recorded figures, per (model, task type), from the same range: the p50 of total_ms over answered
requests, and users' quality (analytics/quality.py, as of the range's end), each with its sample
count, so a replay can say which of its estimates rest on how much.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from analytics.quality import FeedbackRule, live_quality
from analytics.store import Store

__all__ = ["RecordedFigures", "recorded_requests", "recorded_figures"]

_REQUESTS = """
SELECT r.request_id AS request_id, r.created_at AS created_at, r.task_type AS task_type,
       r.agent_context AS agent_context, r.environment AS environment, r.model AS model,
       r.provider AS provider, r.status AS status, r.error_code AS error_code, r.cache_hit AS cache_hit,
       r.input_tokens AS input_tokens, r.output_tokens AS output_tokens,
       r.cached_input_tokens AS cached_input_tokens, r.cache_write_tokens AS cache_write_tokens,
       r.reasoning_tokens AS reasoning_tokens, toFloat64(r.cost_usd) AS cost_usd, r.total_ms AS total_ms,
       r.tools_offered AS tools_offered, r.images AS images, r.response_format AS response_format,
       r.inputs_recorded AS inputs_recorded, r.preferred_model AS preferred_model,
       r.fallback_models AS fallback_models, r.quality_threshold AS quality_threshold,
       r.min_quality AS min_quality, r.max_cost_usd AS max_cost_usd, r.max_latency_ms AS max_latency_ms,
       r.max_tokens AS max_tokens, r.complexity AS complexity, r.estimated_input_tokens AS estimated_input_tokens,
       r.embedding_inputs AS embedding_inputs
FROM requests AS r FINAL
WHERE r.created_at >= {start} AND r.created_at < {end}
ORDER BY r.created_at, r.request_id
"""

_LATENCY = """
SELECT model, task_type, quantileExact(0.5)(total_ms) AS p50_ms, count() AS samples
FROM requests FINAL
WHERE created_at >= {start} AND created_at < {end} AND status = 'ok' AND NOT cache_hit
GROUP BY model, task_type
"""


def _literal(moment: datetime) -> str:
    return f"toDateTime64('{moment.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}', 3, 'UTC')"


def recorded_requests(store: Store, start: datetime, end: datetime) -> list[dict]:
    return store.query(_REQUESTS.format(start=_literal(start), end=_literal(end)))


@dataclass(frozen=True)
class RecordedFigures:
    latency: dict[tuple[str, str], tuple[float, int]]  # (model, task) -> (p50 ms, answered requests)
    quality: dict[tuple[str, str], tuple[float, int]]  # (model, task) -> (quality 0..1, judged requests)


def recorded_figures(store: Store, start: datetime, end: datetime, rule: FeedbackRule) -> RecordedFigures:
    latency = {(row["model"], row["task_type"]): (float(row["p50_ms"]), int(row["samples"]))
               for row in store.query(_LATENCY.format(start=_literal(start), end=_literal(end)))}
    # The quality window is the range itself: judgments older than it are not part of this replay.
    window = FeedbackRule(half_life_s=rule.half_life_s, window_s=max((end - start).total_seconds(), 1.0),
                          satisfaction=rule.satisfaction, relevance=rule.relevance, success=rule.success)
    quality = {(q.model, q.task_type): (q.quality, q.judgments) for q in live_quality(store, window, now=end)}
    return RecordedFigures(latency=latency, quality=quality)
