-- Why: providers bill cache reads, cache writes and reasoning at their own rates, and cost_usd is
-- priced on all of them. Analysts check a bill against its parts, and see what the prompt cache saves.
-- Each is a part of input_tokens (cache reads and writes) or of output_tokens (reasoning).
ALTER TABLE requests ADD COLUMN IF NOT EXISTS cached_input_tokens UInt32 DEFAULT 0;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS cache_write_tokens UInt32 DEFAULT 0;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS reasoning_tokens UInt32 DEFAULT 0;
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS cached_input_tokens UInt32 DEFAULT 0;
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS cache_write_tokens UInt32 DEFAULT 0;
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS reasoning_tokens UInt32 DEFAULT 0;
