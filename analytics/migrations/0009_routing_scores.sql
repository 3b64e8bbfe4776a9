-- Why: "why did this request go to X?" needs the decision matrix's scores next to the exclusions.
ALTER TABLE routing_decisions ADD COLUMN IF NOT EXISTS scores Map(String, Float64);
