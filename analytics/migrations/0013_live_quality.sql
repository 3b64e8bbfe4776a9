-- Why: "why did this request go to X?" includes what users judged of each candidate: the quality
-- figure the decision used and how many judged requests it rests on (0: the tier's prior).
ALTER TABLE routing_decisions ADD COLUMN IF NOT EXISTS quality Map(String, Float64);
ALTER TABLE routing_decisions ADD COLUMN IF NOT EXISTS quality_judgments Map(String, UInt32);
