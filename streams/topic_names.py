"""The names of our topics, in one place for the Faust declarations and the event validation."""

REQUESTS = "llm.requests"
RESPONSES = "llm.responses"
TELEMETRY = "llm.telemetry"
DLQ = "llm.requests.dlq"
FEEDBACK = "llm.feedback"
CORE_TOPICS = (REQUESTS, RESPONSES, TELEMETRY, DLQ, FEEDBACK)
# A response sent to one of these would be read back as input.
NOT_REPLY_TARGETS = frozenset({REQUESTS, TELEMETRY, DLQ, FEEDBACK})
