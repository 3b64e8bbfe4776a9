"""The cache keeper: one writer per cache key for answers and for the requests making them.

It reads llm.cache (keyed by cache key) and keeps, in a Faust table, per key either the answer
(until its expiry) or the request making it now (the leader) with the requests waiting for it
(its followers). A lookup gets `hit`, `lead`, or `follow` and later a second answer; a store answers every
follower with `hit`; an abandon tells them to `serve` themselves. Answers go out on
llm.cache-answers. The table lives in this cluster's Kafka only (response_caching:
temporary_local_only); it is a tumbling windowed table, so Faust drops old entries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

import faust

from streams.agents.keeping import keep_each
from streams.events import CacheAnswer, CacheRequest
from streams.events.topic_names import CACHE_ANSWERS
from streams.kafka.side_channel import SideChannel
from streams.kafka.topics import Topics

__all__ = ["register_cache_keeper"]

log = logging.getLogger(__name__)


def register_cache_keeper(app: faust.App, topics: Topics, side: SideChannel, *, window_s: float, leader_timeout_s: float,
                          clock: Callable[[], float] = time.time) -> faust.types.AgentT:
    """`window_s`: the longest ttl any entry gets (idempotency keys); `leader_timeout_s`: after this a
    leader that never stored nor abandoned is replaced by the next lookup."""
    entries = app.Table("response-cache", default=dict).tumbling(
        window_s, expires=timedelta(seconds=2 * window_s))

    def read(key: str) -> dict | None:
        # The entry may have been written in the previous window: look in both.
        return entries[key].current() or entries[key].delta(window_s)

    async def answer(request_id: str, worker: str, verdict: str, entry: dict | None = None) -> None:
        reply = CacheAnswer(request_id=request_id, worker=worker, verdict=verdict,
                            answer=entry.get("answer") if entry else None,
                            first_request_id=entry.get("leader") if entry else None)
        await side.send(CACHE_ANSWERS, request_id.encode(), reply.to_bytes())

    async def apply(request: CacheRequest) -> None:
        now, key = clock(), request.key
        entry = read(key)
        if request.kind == "lookup":
            if entry and entry["state"] == "done" and entry["expires_at"] > now:
                await answer(request.request_id, request.worker, "hit", entry)
            elif entry and entry["state"] == "in_flight" and now - entry["since"] < leader_timeout_s \
                    and entry["leader"] != request.request_id:
                entry = {**entry, "followers": [*entry["followers"], [request.request_id, request.worker]]}
                entries[key] = entry
                await answer(request.request_id, request.worker, "follow", entry)
            else:  # nothing, expired, or a leader that vanished (or is asking again after a crash)
                entries[key] = {"state": "in_flight", "leader": request.request_id, "since": now,
                                "followers": [], "answer": None, "expires_at": 0.0}
                await answer(request.request_id, request.worker, "lead")
            return
        if not entry or entry["state"] != "in_flight" or entry["leader"] != request.request_id:
            return  # a leader that was replaced, or a store sent twice
        verdict = "hit" if request.kind == "store" else "serve"
        done = {"state": "done", "leader": request.request_id, "since": entry["since"], "followers": [],
                "answer": request.answer, "expires_at": now + request.ttl_s if verdict == "hit" else now}
        entries[key] = done
        for follower, worker in entry["followers"]:
            await answer(follower, worker, verdict, done if verdict == "hit" else None)

    @app.agent(topics.cache, name="keep_cache")
    async def keep_cache(stream: faust.StreamT) -> None:
        await keep_each(stream, CacheRequest, apply)

    return keep_cache
