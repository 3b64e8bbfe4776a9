-- Why: the seed's quality metrics (task success, output relevance, human satisfaction) come from
-- feedback on responses, joined to requests by request_id. The latest verdict per request wins.
CREATE TABLE IF NOT EXISTS feedback
(
    request_id                 String,
    given_at                   DateTime64(3, 'UTC'),
    human_satisfaction_rating  Nullable(UInt8),
    output_relevance_score     Nullable(Float64),
    task_success               Nullable(Bool),
    source                     LowCardinality(String)
)
ENGINE = ReplacingMergeTree(given_at)
ORDER BY request_id
TTL toDateTime(given_at) + INTERVAL 7 DAY;
