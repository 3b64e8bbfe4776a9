-- Why: `hugai-llm replay` runs a candidate config's routing over recorded requests. It needs what
-- routing read from each request besides its task and agent: its own limits, the model it asked
-- for, the output it allowed, its complexity and the token estimate routing made. Rows written
-- before this migration have inputs_recorded = false, and the replay says how many of those it saw.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS inputs_recorded Bool DEFAULT false;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS preferred_model LowCardinality(String) DEFAULT '';
ALTER TABLE requests ADD COLUMN IF NOT EXISTS fallback_models Array(String) DEFAULT [];
ALTER TABLE requests ADD COLUMN IF NOT EXISTS quality_threshold Nullable(Float64);
ALTER TABLE requests ADD COLUMN IF NOT EXISTS min_quality Nullable(Float64);
ALTER TABLE requests ADD COLUMN IF NOT EXISTS max_cost_usd Nullable(Float64);
ALTER TABLE requests ADD COLUMN IF NOT EXISTS max_latency_ms Nullable(Float64);
ALTER TABLE requests ADD COLUMN IF NOT EXISTS max_tokens Nullable(UInt32);
ALTER TABLE requests ADD COLUMN IF NOT EXISTS complexity LowCardinality(String) DEFAULT '';
ALTER TABLE requests ADD COLUMN IF NOT EXISTS estimated_input_tokens UInt32 DEFAULT 0;
