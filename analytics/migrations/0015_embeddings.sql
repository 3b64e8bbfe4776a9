-- Why: an embedding request is billed like chat (input tokens) and lands in the same rows; analysts
-- and `hugai-llm replay` tell it apart, and see its size, by how many texts it embedded (0: a chat).
ALTER TABLE requests ADD COLUMN IF NOT EXISTS embedding_inputs UInt32 DEFAULT 0;
