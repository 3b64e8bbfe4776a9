-- Why: the real-time dashboard shows queue depth by provider: calls in flight per worker and
-- provider, and requests waiting (the router group's lag on llm.requests), sampled every few seconds.
CREATE TABLE IF NOT EXISTS queue_depth
(
    at         DateTime64(3, 'UTC'),
    worker     LowCardinality(String),
    provider   LowCardinality(String),
    in_flight  UInt32,
    waiting    UInt64
)
ENGINE = MergeTree
ORDER BY (at, worker, provider)
TTL toDateTime(at) + INTERVAL 7 DAY;
