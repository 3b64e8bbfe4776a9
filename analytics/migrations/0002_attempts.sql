-- Why: one row per provider call, so error rates, uptime and fallback behaviour can be read per
-- model and provider, not just per final response. attempt_id is request_id:n, so a replay folds.
CREATE TABLE IF NOT EXISTS attempts
(
    attempt_id     String,
    request_id     String,
    attempt        UInt8,
    started_at     DateTime64(3, 'UTC'),
    environment    LowCardinality(String),
    tenant         String,
    user           String,
    task_type      LowCardinality(String),
    agent_context  LowCardinality(String),
    model          LowCardinality(String),
    provider       LowCardinality(String),
    status         LowCardinality(String),
    error_code     LowCardinality(String),
    latency_ms     Float64,
    ttft_ms        Nullable(Float64),
    input_tokens   UInt32,
    output_tokens  UInt32,
    cost_usd       Decimal(18, 9),
    simulated      Bool
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(started_at)
ORDER BY (toStartOfHour(started_at), attempt_id)
TTL toDateTime(started_at) + INTERVAL 7 DAY;
