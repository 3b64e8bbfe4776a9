-- Why: dashboards and monthly budgets need cheap reads that outlive the 7-day request data.
-- Per-minute and per-day aggregates hold no request data (no ids, tenants or text), so they are
-- kept for 400 days. The sink inserts each request once (it skips ids already stored), so a
-- replayed stream never adds to these sums.
CREATE TABLE IF NOT EXISTS model_stats_by_minute
(
    minute         DateTime('UTC'),
    model          LowCardinality(String),
    provider       LowCardinality(String),
    task_type      LowCardinality(String),
    agent_context  LowCardinality(String),
    requests       AggregateFunction(count),
    successes      AggregateFunction(countIf, UInt8),
    errors         AggregateFunction(countIf, UInt8),
    cost_usd       AggregateFunction(sum, Decimal(18, 9)),
    input_tokens   AggregateFunction(sum, UInt32),
    output_tokens  AggregateFunction(sum, UInt32),
    total_ms       AggregateFunction(quantiles(0.5, 0.95, 0.99), Float64),
    ttft_ms        AggregateFunction(avg, Nullable(Float64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, model, provider, task_type, agent_context)
TTL minute + INTERVAL 400 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS model_stats_by_minute_mv TO model_stats_by_minute AS
SELECT
    toStartOfMinute(created_at) AS minute,
    model, provider, task_type, agent_context,
    countState() AS requests,
    countIfState(status = 'ok') AS successes,
    countIfState(status != 'ok') AS errors,
    sumState(cost_usd) AS cost_usd,
    sumState(input_tokens) AS input_tokens,
    sumState(output_tokens) AS output_tokens,
    quantilesState(0.5, 0.95, 0.99)(total_ms) AS total_ms,
    avgState(ttft_ms) AS ttft_ms
FROM requests
GROUP BY minute, model, provider, task_type, agent_context;

CREATE TABLE IF NOT EXISTS spend_by_provider_day
(
    day        Date,
    provider   LowCardinality(String),
    cost_usd   Decimal(18, 9),
    requests   UInt64
)
ENGINE = SummingMergeTree
ORDER BY (day, provider)
TTL day + INTERVAL 400 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_by_provider_day_mv TO spend_by_provider_day AS
SELECT toDate(created_at) AS day, provider, sum(cost_usd) AS cost_usd, count() AS requests
FROM requests
GROUP BY day, provider;
