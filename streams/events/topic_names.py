"""The names of our topics, in one place for the Faust declarations and the event validation."""

# The Faust app's id: its consumer group, and the prefix of its own topics (table changelogs, the assignor's).
FAUST_APP_ID = "hugai-llm"
# How long the breaker keeper's windowed figures are kept: its changelog's retention.
MODEL_FIGURES_EXPIRES_S = 600.0

REQUESTS = "llm.requests"
# The largest llm.requests record: a request with images (5 MiB each, as base64) must fit. The topic is
# created with this max.message.bytes, and every producer of requests may send this much. Other
# topics keep Kafka's default of about 1 MB: answers, telemetry and state carry no images.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
# What a producer batch of one such record may hold beyond the record: the batch and record headers,
# the key. It is the topic's max.message.bytes and the producers' max_request_size.
MAX_REQUEST_BATCH_BYTES = MAX_REQUEST_BYTES + 64 * 1024
# The largest answer record, and so the largest shared answer: an embedding request's vectors must
# fit (llm.responses, the reply topics and the entry topics are created with it). Routing refuses an
# embedding request whose vectors would not (streams/routing/scoring.py), naming the sizes.
MAX_ANSWER_BYTES = MAX_REQUEST_BATCH_BYTES
# What one vector component takes in an answer's JSON, about ("-0.0123456789,").
JSON_BYTES_PER_FLOAT = 12
# The HTTP endpoint's largest body; the event it becomes is about the same size and fits a record.
MAX_HTTP_BODY_BYTES = 8 * 1024 * 1024
RESPONSES = "llm.responses"
TELEMETRY = "llm.telemetry"
DLQ = "llm.requests.dlq"
FEEDBACK = "llm.feedback"
OUTCOMES = "llm.outcomes"  # keyed by model: what the breaker keeper is fed
# Partition p holds the offsets of partition p of llm.requests that are answered (streams/kafka/outbox.py).
ANSWERED = "llm.requests.answered"
CORE_TOPICS = (REQUESTS, RESPONSES, TELEMETRY, DLQ, FEEDBACK, OUTCOMES)
# Shared answers (CacheEntry), keyed by cache key, partition p written by the owner of partition p of
# llm.requests and read back by its next owner. Apart, because each keeps records for its own ttl.
CACHE_ENTRIES = "llm.cache-entries"
IDEMPOTENCY_ENTRIES = "llm.idempotency-entries"
ENTRY_TOPICS = (CACHE_ENTRIES, IDEMPOTENCY_ENTRIES)
# One partition each: the budget keeper must see every reservation in one order.
BUDGET = "llm.budget"  # reservations
# Settlements, apart from reservations: they are written in the answers' transactions, and a
# read_committed reader stops at a partition's first open transaction. On llm.budget they would
# hold every reservation behind other requests' commits.
SETTLEMENTS = "llm.budget-settlements"
BUDGET_DECISIONS = "llm.budget-decisions"
# Callers that stopped reading a stream; every worker reads it from its end (the one serving the request acts).
STREAM_CANCELS = "llm.stream-cancels"
SINGLE_PARTITION_TOPICS = (BUDGET, SETTLEMENTS, BUDGET_DECISIONS, STREAM_CANCELS)
# Compacted, one partition, read whole by every worker (see streams/kafka/broadcast.py).
MODEL_HEALTH = "llm.model-health"
CONTROL = "llm.control"
APPROVALS = "llm.approvals"
BUDGET_STATE = "llm.budget-state"
MODEL_QUALITY = "llm.model-quality"  # live quality from feedback, per (model, task type), by the sink
STATE_TOPICS = (MODEL_HEALTH, CONTROL, APPROVALS, BUDGET_STATE, MODEL_QUALITY)
# A response sent to one of these would be read back as input.
NOT_REPLY_TARGETS = frozenset({REQUESTS, ANSWERED, TELEMETRY, DLQ, FEEDBACK, OUTCOMES, *SINGLE_PARTITION_TOPICS,
                               *STATE_TOPICS, *ENTRY_TOPICS})
