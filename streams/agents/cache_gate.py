"""The response cache and request deduplication, kept by the worker that owns the question's partition.

Requests are published keyed by their question key (streams/events/request_keys.py), so identical
requests land on one partition of llm.requests and are served by its owner. That worker alone
shares answers for the partition, in memory, without asking anyone:

- a lookup finds an answer (hit), an identical request being served now (it waits for its
  answer: dedup), or nothing (lead: this request is served, and its answer is shared);
- the leader's answer goes to the requests waiting for it at once, and, when it may serve later
  requests (ttl > 0), it is also published as a CacheEntry in the leader's own transaction (the
  router adds it to the request's outputs), on the partition's number of llm.cache-entries or
  llm.idempotency-entries;
- a worker that takes a partition over reads those entries back before it serves the partition
  (load), so a cached answer or an idempotency key outlives a rebalance or a crash. A lookup on a
  partition still loading waits for the load.

An entry is written only with the answer it holds: a request redelivered after a crash finds no
answer of its own, and a request whose transaction was aborted leaves no entry behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from streams.events import CacheEntry

__all__ = ["CacheGate", "Lookup", "MAX_ENTRIES_PER_PARTITION"]

log = logging.getLogger(__name__)

# Answers held per partition; past it the oldest go first. Each holds a response's content.
MAX_ENTRIES_PER_PARTITION = 20_000


@dataclass(frozen=True, slots=True)
class Lookup:
    verdict: str  # hit | lead | serve
    answer: dict | None = None
    first_request_id: str | None = None


@dataclass
class _Leader:
    request_id: str
    done: asyncio.Future[dict | None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class _Partition:
    answers: dict[str, CacheEntry] = field(default_factory=dict)  # insertion order: oldest first
    loaded: asyncio.Event = field(default_factory=asyncio.Event)


class CacheGate:
    def __init__(self, *, follow_timeout_s: float = 120.0, load_timeout_s: float = 60.0,
                 clock: Callable[[], float] = time.time, max_entries: int = MAX_ENTRIES_PER_PARTITION):
        self._follow_timeout_s = follow_timeout_s
        self._load_timeout_s = load_timeout_s
        self._clock = clock
        self._max_entries = max_entries
        self._partitions: dict[int, _Partition] = {}
        # Apart from the partitions: a leader still running when its partition is revoked and
        # assigned back must still answer the requests that wait for it.
        self._leaders: dict[tuple[int, str], _Leader] = {}

    def _partition(self, partition: int) -> _Partition:
        found = self._partitions.get(partition)
        if found is None:  # not taken over through assigned(): nothing to read back (tests, one process)
            found = self._partitions[partition] = _Partition()
            found.loaded.set()
        return found

    def assigned(self, partition: int) -> None:
        """The partition is this worker's now: lookups on it wait until load() has read its entries."""
        self._partitions[partition] = _Partition()

    def load(self, partition: int, records: Iterable[tuple[bytes | None, bytes | None]]) -> int:
        """Apply the partition's entries, oldest first (a later one for a key replaces it); return how many
        still serve. Lookups waiting on the partition go on."""
        kept = self._partitions.get(partition)
        if kept is None:
            return 0  # revoked while it was read
        now = self._clock()
        for _, value in records:
            if value is None:
                continue
            try:
                entry = CacheEntry.model_validate_json(value)
            except ValidationError:
                log.error("skipping an unreadable cache entry on partition %d", partition)
                continue
            if entry.expires_at > now:
                kept.answers.pop(entry.key, None)
                kept.answers[entry.key] = entry
        self._trim(kept)
        kept.loaded.set()
        return len(kept.answers)

    def revoked(self, partition: int) -> None:
        """Its answers are the next owner's to keep; requests being led here finish on their own."""
        kept = self._partitions.pop(partition, None)
        if kept is not None:
            kept.loaded.set()  # lookups waiting on it go on: their answers are not this worker's to commit

    async def lookup(self, key: str, request_id: str, partition: int = 0) -> Lookup:
        """hit: here is the answer; lead: make it, then finish(); serve: make your own, nobody waits."""
        kept = self._partition(partition)
        if not kept.loaded.is_set():
            try:
                await asyncio.wait_for(kept.loaded.wait(), self._load_timeout_s)
            except TimeoutError:
                log.error("the cache entries of partition %d were not read in %.0f s; serving without them",
                          partition, self._load_timeout_s)
                kept.loaded.set()
        entry = kept.answers.get(key)
        if entry is not None:
            if entry.expires_at > self._clock():
                return Lookup("hit", entry.answer, entry.request_id)
            del kept.answers[key]
        leader = self._leaders.get((partition, key))
        if leader is None or leader.request_id == request_id:  # nobody, or itself read again after a rebalance
            self._leaders[(partition, key)] = _Leader(request_id)
            return Lookup("lead")
        try:
            answer = await asyncio.wait_for(asyncio.shield(leader.done), self._follow_timeout_s)
        except TimeoutError:
            return Lookup("serve")  # a leader that takes longer than a call may: do not hold the request
        if answer is None:
            return Lookup("serve")  # the leader got no answer: nothing to share
        return Lookup("hit", answer, leader.request_id)

    def finish(self, key: str, request_id: str, answer: dict | None, ttl_s: float, partition: int = 0
               ) -> CacheEntry | None:
        """The leader's answer (None: it got none). Hands it to the requests waiting for it, and keeps it for
        ttl_s. Returns the entry to publish with the leader's answer, when there is one to keep."""
        leader = self._leaders.get((partition, key))
        if leader is not None and leader.request_id == request_id:
            del self._leaders[(partition, key)]
            leader.done.set_result(answer)
        if answer is None or ttl_s <= 0:
            return None
        entry = CacheEntry(key=key, request_id=request_id, expires_at=self._clock() + ttl_s, answer=answer)
        kept = self._partitions.get(partition)
        if kept is not None:
            kept.answers.pop(key, None)
            kept.answers[key] = entry
            self._trim(kept)
        return entry

    def _trim(self, kept: _Partition) -> None:
        now = self._clock()
        while kept.answers:
            oldest = next(iter(kept.answers.values()))
            if len(kept.answers) <= self._max_entries and oldest.expires_at > now:
                return
            del kept.answers[oldest.key]
