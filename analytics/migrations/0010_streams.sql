-- Why: a streamed answer's time to first token is the provider's, and its usage may be counted
-- from the text when the provider reported none (then cost_usd is priced on that count). Analysts
-- need both to tell a stream's figures from a whole answer's.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS streamed Bool DEFAULT false;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS usage_estimated Bool DEFAULT false;
