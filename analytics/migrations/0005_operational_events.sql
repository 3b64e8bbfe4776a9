-- Why: breaker transitions, budget thresholds and operator commands are what ops and auditors
-- read back. They hold no request data, so they are kept for a year, not 7 days.
CREATE TABLE IF NOT EXISTS breaker_events
(
    event_id     String,
    at           DateTime64(3, 'UTC'),
    model        LowCardinality(String),
    state        LowCardinality(String),
    reason       String
)
ENGINE = ReplacingMergeTree
ORDER BY (at, event_id)
TTL toDateTime(at) + INTERVAL 365 DAY;

CREATE TABLE IF NOT EXISTS budget_events
(
    event_id     String,
    at           DateTime64(3, 'UTC'),
    budget       LowCardinality(String),
    window_start DateTime('UTC'),
    threshold    Float64,
    spent_usd    Decimal(18, 9),
    limit_usd    Decimal(18, 9)
)
ENGINE = ReplacingMergeTree
ORDER BY (at, event_id)
TTL toDateTime(at) + INTERVAL 365 DAY;

CREATE TABLE IF NOT EXISTS control_audit
(
    event_id     String,
    at           DateTime64(3, 'UTC'),
    actor        String,
    command      LowCardinality(String),
    target       String,
    reason       String
)
ENGINE = ReplacingMergeTree
ORDER BY (at, event_id)
TTL toDateTime(at) + INTERVAL 365 DAY;
