"""The wire events: JSON, UTF-8, one pydantic model each. Any Kafka client can speak them.

LLMRequest      on llm.requests, keyed by its question key (streams/events/request_keys.py)
LLMResponse     on llm.responses (or the request's reply_to topic), keyed by request_id
RequestServed   on llm.telemetry, one per request, holding its three kinds of facts for ClickHouse:
  RequestCompleted  the metadata-only record of one response
  AttemptCompleted  one provider call
  RouteDecided      the candidates considered and the one chosen
FeedbackGiven   on llm.feedback: a human's or a system's verdict on one response
DeadLetter      on llm.requests.dlq: an event we could not serve, with the reason
StreamDelta     on the reply topic, before the LLMResponse of a streamed request: a piece of its text
                or of a tool call
agent_parts     what agent traffic adds to a request and its answer: content parts, tools, tool calls
StreamCancel    on llm.stream-cancels: a caller stopped reading a stream

Each module holds the events of one producer: requests (services), responses (the request agent),
telemetry (workers and keepers, for ClickHouse), keepers (workers and keepers to each other),
operators (the CLI). topic_names holds the topics they travel on.
"""

from streams.events.agent_parts import (
    ImagePart,
    NamedTool,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolCallFragment,
    ToolSpec,
)
from streams.events.base import Event, reply_topic_problem, utcnow
from streams.events.keepers import (
    BudgetDecision,
    BudgetRequest,
    BudgetState,
    CacheEntry,
    ModelHealth,
    ModelQuality,
    ModelOutcome,
)
from streams.events.operators import CONTROL_ACTIONS, ApprovalDecided, ApprovalRequested, ControlCommand
from streams.events.requests import (
    ChatMessage,
    FeedbackGiven,
    InvalidRequest,
    LLMRequest,
    PerformanceRequirements,
    StreamCancel,
    parse_request,
)
from streams.events.responses import Attempt, DeadLetter, ErrorInfo, Latency, LLMResponse, StreamDelta, TokenUsage
from streams.events.telemetry import (
    AttemptCompleted,
    BreakerChanged,
    BudgetThreshold,
    KeyRotationDue,
    QueueDepthSampled,
    RequestCompleted,
    RequestServed,
    RouteDecided,
)

__all__ = [
    "ChatMessage",
    "TextPart",
    "ImagePart",
    "ToolSpec",
    "ToolCall",
    "NamedTool",
    "ResponseFormat",
    "ToolCallFragment",
    "PerformanceRequirements",
    "LLMRequest",
    "TokenUsage",
    "Latency",
    "Attempt",
    "ErrorInfo",
    "LLMResponse",
    "StreamDelta",
    "StreamCancel",
    "RequestCompleted",
    "AttemptCompleted",
    "RouteDecided",
    "RequestServed",
    "FeedbackGiven",
    "KeyRotationDue",
    "QueueDepthSampled",
    "BreakerChanged",
    "ModelOutcome",
    "ModelHealth",
    "ModelQuality",
    "ControlCommand",
    "CONTROL_ACTIONS",
    "ApprovalRequested",
    "ApprovalDecided",
    "CacheEntry",
    "BudgetRequest",
    "BudgetDecision",
    "BudgetThreshold",
    "BudgetState",
    "DeadLetter",
    "InvalidRequest",
    "parse_request",
    "utcnow",
    "Event",
    "reply_topic_problem",
]
