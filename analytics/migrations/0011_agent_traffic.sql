-- Why: agents call models with tools, tool results and images, and an answer can end for other
-- reasons than "done" (cut by max_tokens, to have tools run, filtered). Analysts split cost, latency
-- and quality by them. Counts and flags only: the tools, their arguments and results, and the
-- images are content and never reach ClickHouse.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS tools_offered UInt16 DEFAULT 0;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS tool_calls UInt16 DEFAULT 0;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS images UInt16 DEFAULT 0;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS response_format LowCardinality(String) DEFAULT '';
ALTER TABLE requests ADD COLUMN IF NOT EXISTS finish_reason LowCardinality(String) DEFAULT '';
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS provider_finish_reason LowCardinality(String) DEFAULT '';
