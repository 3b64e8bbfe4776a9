-- Why: one row per final LLM response is the record analysts query for what each model costs
-- and delivers. Metadata only (no prompt or completion text). Replays of the same event carry
-- the same request_id and created_at, so ReplacingMergeTree folds them into one row; read with FINAL.
-- The seed's data_retention is 7 days, enforced by the TTL.
CREATE TABLE IF NOT EXISTS requests
(
    request_id     String,
    created_at     DateTime64(3, 'UTC'),
    responded_at   DateTime64(3, 'UTC'),
    task_type      LowCardinality(String),
    agent_context  LowCardinality(String),
    environment    LowCardinality(String),
    tenant         String,
    user           String,
    model          LowCardinality(String),
    provider       LowCardinality(String),
    status         LowCardinality(String),
    attempts       UInt8,
    fallback_used  Bool,
    cache_hit      Bool,
    input_tokens   UInt32,
    output_tokens  UInt32,
    cost_usd       Decimal(18, 9),
    ttft_ms        Nullable(Float64),
    total_ms       Float64,
    error_code     LowCardinality(String),
    simulated      Bool
)
ENGINE = ReplacingMergeTree(responded_at)
PARTITION BY toDate(created_at)
ORDER BY (toStartOfHour(created_at), request_id)
TTL toDateTime(created_at) + INTERVAL 7 DAY;
