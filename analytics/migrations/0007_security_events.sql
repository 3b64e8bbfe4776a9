-- Why: api_key_management asks for keys to be rotated every rotation_frequency; workers report
-- keys older than that here (where the key lives and its age, never the key), once a day each.
CREATE TABLE IF NOT EXISTS security_events
(
    event_id      String,
    at            DateTime64(3, 'UTC'),
    event_type    LowCardinality(String),
    family        LowCardinality(String),
    source        String,
    age_days      Float64,
    max_age_days  Float64
)
ENGINE = ReplacingMergeTree
ORDER BY (at, event_id)
TTL toDateTime(at) + INTERVAL 365 DAY;
