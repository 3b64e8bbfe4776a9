"""A worker's side of the response cache and request deduplication, through the cache keeper.

The cache key is a hash of what makes two requests the same question: the tenant, the model
class (the capability class of the model routing would try first, or the model the request
names), the messages and the generation parameters. A request with an idempotency key
(metadata.idempotency_key) is keyed by that key and its tenant instead, and its answer is kept
for idempotency_ttl whether or not caching is on.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from streams.events import CacheAnswer, CacheRequest, LLMRequest

__all__ = ["CacheGate", "Lookup", "cache_key"]

Send = Callable[[CacheRequest], Awaitable[None]]


def cache_key(request: LLMRequest, model_class: str, tenant: str) -> tuple[str, bool]:
    """(key, is an idempotency key)."""
    idempotency = request.metadata.get("idempotency_key")
    if isinstance(idempotency, str) and idempotency:
        return "idem:" + hashlib.sha256(json.dumps([tenant, idempotency]).encode()).hexdigest(), True
    question = [tenant, model_class, request.preferred_model, [[m.role, m.content] for m in request.chat_messages()],
                request.max_tokens, request.temperature]
    return "ask:" + hashlib.sha256(json.dumps(question).encode()).hexdigest(), False


@dataclass(frozen=True, slots=True)
class Lookup:
    verdict: str  # hit | lead | serve
    answer: dict | None = None
    first_request_id: str | None = None


class CacheGate:
    def __init__(self, *, me: str, send: Send, answer_timeout_s: float = 10.0, follow_timeout_s: float = 120.0):
        self.me = me
        self._send = send
        self._answer_timeout_s = answer_timeout_s
        self._follow_timeout_s = follow_timeout_s
        # A queue, not a future: "follow" and then "hit" may arrive in the same fetch, before the
        # waiting request runs again; a second future made after the first would miss the hit.
        self._waiting: dict[str, asyncio.Queue[CacheAnswer]] = {}

    async def lookup(self, key: str, request_id: str) -> Lookup:
        """hit: here is the answer; lead: make it (then store or abandon); serve: make your own, nobody waits."""
        answers: asyncio.Queue[CacheAnswer] = asyncio.Queue()
        self._waiting[request_id] = answers
        try:
            await self._send(CacheRequest(kind="lookup", key=key, request_id=request_id, worker=self.me))
            answer = await asyncio.wait_for(answers.get(), self._answer_timeout_s)
            if answer.verdict == "follow":  # the answer comes when the leader's does: as long as a call may take
                answer = await asyncio.wait_for(answers.get(), self._follow_timeout_s)
        except asyncio.TimeoutError:
            return Lookup("serve")  # no keeper, or a leader that never answered: do not hold the request
        finally:
            self._waiting.pop(request_id, None)
        return Lookup(answer.verdict, answer.answer, answer.first_request_id)

    async def store(self, key: str, request_id: str, answer: dict, ttl_s: float) -> None:
        await self._send(CacheRequest(kind="store", key=key, request_id=request_id, worker=self.me, ttl_s=ttl_s,
                                      answer=answer))

    async def abandon(self, key: str, request_id: str) -> None:
        await self._send(CacheRequest(kind="abandon", key=key, request_id=request_id, worker=self.me))

    def apply(self, answer: CacheAnswer) -> None:
        if answer.worker != self.me:
            return
        answers = self._waiting.get(answer.request_id)
        if answers is not None:
            answers.put_nowait(answer)
