"""Live quality per (model, task type), from users' feedback joined to the requests it judges.

Each judgment is normalized and combined as quality_feedback.weights says:
  satisfaction  human_satisfaction_rating 1..5 -> (rating - 1) / 4
  relevance     output_relevance_score, 0..1 as given
  success       task_success, false/true -> 0/1
A judgment that gives only some of the three is scored over the ones it gives. Its weight halves
every half_life, and judgments older than the window are not read; the figure is the weighted mean.

What cannot skew it:
- Feedback on a request that does not exist (or whose row has expired) joins nothing: an inner join.
- Feedback given twice on one request: the feedback table keeps the latest per request
  (ReplacingMergeTree by request_id, read FINAL), so a request is judged once, as it was last judged.
- Feedback on a request that failed: only answers (status ok) are judged.

The same SQL runs on chdb and on a ClickHouse server. `now` is a parameter, not the server's clock,
so a test (or a replay) gives the same figures every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from analytics.store import Store

__all__ = ["FeedbackRule", "LiveQuality", "live_quality", "LIVE_QUALITY_SQL"]

LIVE_QUALITY_SQL = """
SELECT r.model AS model, r.task_type AS task_type, count() AS judgments,
       sum(f.w * f.score) / sum(f.w) AS quality
FROM (
    SELECT request_id,
           exp2(-greatest(dateDiff('millisecond', given_at, {now}), 0) / 1000 / {half_life_s}) AS w,
           ({ws} * ifNull((human_satisfaction_rating - 1) / 4, 0)
            + {wr} * ifNull(output_relevance_score, 0)
            + {wt} * ifNull(toFloat64(task_success), 0))
           / (if(isNull(human_satisfaction_rating), 0, {ws}) + if(isNull(output_relevance_score), 0, {wr})
              + if(isNull(task_success), 0, {wt})) AS score
    FROM feedback FINAL
    WHERE given_at > {now} - INTERVAL {window_s} SECOND AND given_at <= {now}
) AS f
INNER JOIN (
    SELECT request_id, model, task_type FROM requests FINAL
    WHERE status = 'ok' AND created_at > {now} - INTERVAL {window_s} SECOND - INTERVAL 1 DAY
) AS r ON r.request_id = f.request_id
WHERE isFinite(f.score)
GROUP BY model, task_type
ORDER BY model, task_type
"""


@dataclass(frozen=True)
class FeedbackRule:
    """quality_feedback from the config, as plain numbers (analytics does not read the config)."""

    half_life_s: float = 6 * 3600
    window_s: float = 7 * 86400
    satisfaction: float = 0.5
    relevance: float = 0.3
    success: float = 0.2


@dataclass(frozen=True)
class LiveQuality:
    model: str
    task_type: str
    quality: float  # 0..1
    judgments: int


def live_quality(store: Store, rule: FeedbackRule, *, now: datetime | None = None) -> list[LiveQuality]:
    now = now or datetime.now(timezone.utc)
    sql = LIVE_QUALITY_SQL.format(
        now=f"toDateTime64('{now.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}', 3, 'UTC')",
        half_life_s=max(rule.half_life_s, 0.001), window_s=int(rule.window_s),
        ws=float(rule.satisfaction), wr=float(rule.relevance), wt=float(rule.success))
    return [LiveQuality(model=row["model"], task_type=row["task_type"], quality=round(float(row["quality"]), 6),
                        judgments=int(row["judgments"])) for row in store.query(sql)]
