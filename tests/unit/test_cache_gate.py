"""Sharing answers on the worker that owns a question's partition: leaders, followers, ttl, read back.

The broker's side (entries published with the answer, read back by the next owner, requests moved
to their question's partition) is exercised in tests/e2e/test_cache.py.
"""

from __future__ import annotations

import asyncio

from streams.agents.cache_gate import CacheGate
from streams.events import CacheEntry, LLMRequest
from streams.events.request_keys import cache_key, question_key, question_partition

ANSWER = {"model": "m", "provider": "p", "content": "hi", "usage": {}, "simulated": False}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def request(**fields) -> LLMRequest:  # noqa: ANN003
    return LLMRequest(**{"request_id": "r", "task_type": "t", "prompt": "what is 2+2?", **fields})


def test_requests_with_one_cache_key_have_one_question_key_whoever_sends_them():
    one, other = request(request_id="a", metadata={"tenant": "x", "user": "u"}), request(request_id="b")
    assert question_key(one) == question_key(other)  # the tenant is a worker's part of the cache key
    assert cache_key(one, "c", "x") != cache_key(other, "c", "")
    assert question_key(request(prompt="another question")) != question_key(one)
    assert question_key(request(max_tokens=5)) != question_key(one)
    retry = request(prompt="charge the card (again)", metadata={"idempotency_key": "order-1"})
    assert question_key(retry) == question_key(request(metadata={"idempotency_key": "order-1"}))
    assert cache_key(retry, "c", "")[1] is True


def test_question_keys_spread_over_the_partitions():
    homes = {question_partition(request(prompt=f"question {i}"), 4) for i in range(64)}
    assert homes == {0, 1, 2, 3}


async def test_an_identical_request_waits_for_the_leaders_answer_and_pays_nothing():
    gate = CacheGate(clock=Clock())
    assert (await gate.lookup("k", "leader")).verdict == "lead"
    follower = asyncio.create_task(gate.lookup("k", "follower"))
    await asyncio.sleep(0)
    assert not follower.done()
    entry = gate.finish("k", "leader", ANSWER, ttl_s=0.0)
    found = await follower
    assert (found.verdict, found.answer, found.first_request_id) == ("hit", ANSWER, "leader")
    assert entry is None  # deduplication only: nothing kept for later requests
    assert (await gate.lookup("k", "later")).verdict == "lead"


async def test_a_leader_without_an_answer_lets_its_followers_serve_themselves():
    gate = CacheGate()
    await gate.lookup("k", "leader")
    follower = asyncio.create_task(gate.lookup("k", "follower"))
    await asyncio.sleep(0)
    gate.finish("k", "leader", None, ttl_s=300.0)
    assert (await follower).verdict == "serve"


async def test_a_follower_stops_waiting_after_the_follow_timeout():
    gate = CacheGate(follow_timeout_s=0.01)
    await gate.lookup("k", "leader")
    assert (await gate.lookup("k", "follower")).verdict == "serve"


async def test_a_kept_answer_serves_until_its_ttl_and_is_returned_for_publishing():
    clock = Clock()
    gate = CacheGate(clock=clock)
    await gate.lookup("k", "leader")
    entry = gate.finish("k", "leader", ANSWER, ttl_s=60.0)
    assert (entry.key, entry.request_id, entry.expires_at, entry.answer) == ("k", "leader", clock.now + 60, ANSWER)
    clock.now += 59
    assert (await gate.lookup("k", "again")).verdict == "hit"
    clock.now += 2
    assert (await gate.lookup("k", "too late")).verdict == "lead"


async def test_a_request_read_again_after_a_rebalance_leads_rather_than_waiting_for_itself():
    gate = CacheGate()
    await gate.lookup("k", "r")
    assert (await gate.lookup("k", "r")).verdict == "lead"


async def test_a_partition_taken_over_serves_lookups_only_after_its_entries_are_read_back():
    clock = Clock()
    gate = CacheGate(clock=clock)
    gate.assigned(2)
    waiting = asyncio.create_task(gate.lookup("k", "r", partition=2))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    kept = CacheEntry(key="k", request_id="first", expires_at=clock.now + 10, answer=ANSWER)
    expired = CacheEntry(key="old", request_id="o", expires_at=clock.now - 1, answer=ANSWER)
    assert gate.load(2, [(b"k", expired.to_bytes()), (b"x", b"not json"), (b"t", None), (b"k", kept.to_bytes())]) == 1
    found = await waiting
    assert (found.verdict, found.first_request_id) == ("hit", "first")
    assert (await gate.lookup("old", "r2", partition=2)).verdict == "lead"
    assert (await gate.lookup("k", "r3", partition=1)).verdict == "lead"  # answers are kept per partition


async def test_a_revoked_partition_drops_its_answers_and_releases_its_waiting_lookups():
    gate = CacheGate(load_timeout_s=30)
    gate.assigned(1)
    waiting = asyncio.create_task(gate.lookup("k", "r", partition=1))
    await asyncio.sleep(0)
    gate.revoked(1)
    assert (await asyncio.wait_for(waiting, 1)).verdict == "lead"
    gate.finish("k", "r", ANSWER, ttl_s=60, partition=1)
    gate.assigned(1)
    gate.load(1, [])
    assert (await gate.lookup("k", "r2", partition=1)).verdict == "lead"  # what the next owner did not read back


async def test_a_leader_that_outlives_its_partitions_revocation_still_answers_its_followers():
    gate = CacheGate()
    gate.assigned(0)
    gate.load(0, [])
    await gate.lookup("k", "leader", partition=0)
    follower = asyncio.create_task(gate.lookup("k", "follower", partition=0))
    await asyncio.sleep(0)
    gate.revoked(0)
    gate.assigned(0)
    gate.finish("k", "leader", ANSWER, ttl_s=0.0, partition=0)
    assert (await asyncio.wait_for(follower, 1)).verdict == "hit"


async def test_past_the_limit_the_oldest_answers_go_first():
    gate = CacheGate(max_entries=2)
    for key in "abc":
        await gate.lookup(key, key)
        gate.finish(key, key, ANSWER, ttl_s=60)
    assert [(await gate.lookup(key, "again-" + key)).verdict for key in "abc"] == ["lead", "hit", "hit"]
