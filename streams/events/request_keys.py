"""The keys that make two requests the same question: one for the response cache, one for Kafka.

cache_key: what the worker shares answers by. A hash of the tenant, the model class (the capability
class of the model routing would try first, or the model the request names), the messages (with their
images, tool calls and tool results) and the generation parameters (with tools, tool choice, response
format, stop, seed and top_p). A request with an idempotency key (metadata.idempotency_key) is keyed by
that key and its tenant instead.

question_key: the Kafka key a request is published with. It hashes a part of what cache_key hashes
(the idempotency key alone, or the messages and parameters without tenant and model class, which
only a worker knows), so two requests with one cache key always have one question key, land on one
partition of llm.requests, and meet on the worker that owns it: deduplication and the cache are
local there, with no round trip (streams/agents/cache_gate.py). A request published under another
key is moved to its partition first (streams/agents/router.py), at the cost of one more hop.
"""

from __future__ import annotations

import hashlib
import json

from aiokafka.partitioner import DefaultPartitioner

from streams.events.requests import LLMRequest

__all__ = ["cache_key", "question_key", "question_partition"]


def _idempotency_key(request: LLMRequest) -> str | None:
    key = request.metadata.get("idempotency_key")
    return key if isinstance(key, str) and key else None


def _question(request: LLMRequest) -> list:
    """Everything that can change the answer: two requests that differ in any of it never share one."""
    question = [request.preferred_model, [[m.role, m.content] for m in request.chat_messages()], request.max_tokens,
                request.temperature]
    if request.messages and any(m.tool_calls or not isinstance(m.content, str) for m in request.messages):
        question[1] = [m.model_dump(mode="json", exclude_none=True) for m in request.messages]
    agent = request.model_dump(mode="json", exclude_none=True, include=_AGENT_FIELDS)
    if any(agent.values()):
        question.append(agent)
    return question


# The agent-traffic fields (a plain request has none, and keeps the key it had before they existed).
_AGENT_FIELDS = {"tools", "tool_choice", "parallel_tool_calls", "response_format", "stop", "seed", "top_p", "input",
                 "dimensions"}


def _digest(parts: list) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def cache_key(request: LLMRequest, model_class: str, tenant: str) -> tuple[str, bool]:
    """(key, is an idempotency key)."""
    idempotency = _idempotency_key(request)
    if idempotency is not None:
        return "idem:" + _digest([tenant, idempotency]), True
    return "ask:" + _digest([tenant, model_class, *_question(request)]), False


def question_key(request: LLMRequest) -> bytes:
    idempotency = _idempotency_key(request)
    if idempotency is not None:
        return ("idem:" + _digest([idempotency])).encode()
    return ("ask:" + _digest(_question(request))).encode()


def question_partition(request: LLMRequest, partitions: int) -> int:
    """The partition a producer with Kafka's default partitioner (murmur2, as Java's and aiokafka's) puts it on."""
    return DefaultPartitioner()(question_key(request), list(range(partitions)), [])
