-- Why: "why did this request go to X?" is answered here: the candidates in order, what was
-- excluded and why, and the model chosen. Per-request data, so it keeps the 7-day retention.
CREATE TABLE IF NOT EXISTS routing_decisions
(
    request_id     String,
    decided_at     DateTime64(3, 'UTC'),
    environment    LowCardinality(String),
    tenant         String,
    user           String,
    task_type      LowCardinality(String),
    agent_context  LowCardinality(String),
    reason         LowCardinality(String),
    candidates     Array(String),
    chosen_model   LowCardinality(String),
    excluded       Map(String, String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(decided_at)
ORDER BY (toStartOfHour(decided_at), request_id)
TTL toDateTime(decided_at) + INTERVAL 7 DAY;
