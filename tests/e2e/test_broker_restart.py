"""A broker restart in the middle of a run: the worker and the sink reconnect, and no request is lost.

Requests go out at a steady rate; the broker is stopped after the first KILL_AFTER and started again
2 s later, while the rest keep coming (the client's producer holds them until the broker is back).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest

from streams.client.reply_client import ReplyClient
from streams.events import LLMRequest
from tests.conftest import own_broker, running_stack

pytestmark = [pytest.mark.kafka, pytest.mark.faults]

N, RATE, KILL_AFTER = 300, 50.0, 100


def test_a_broker_restart_mid_run_loses_no_request(tmp_path_factory):
    run = uuid.uuid4().hex[:6]
    requests = [LLMRequest(request_id=f"restart-{run}-{i}", task_type="code_generation", prompt=f"survive {i}")
                for i in range(N)]
    outcome: dict = {}
    half_sent = threading.Event()
    with own_broker(tmp_path_factory.mktemp("restart-kafka")) as broker, \
            running_stack(tmp_path_factory.mktemp("restart"), broker.bootstrap) as dev:

        async def drive() -> None:
            async with ReplyClient(dev.bootstrap) as client:
                futures: dict = {}
                started = time.monotonic()
                for i, request in enumerate(requests):
                    await asyncio.sleep(max(0.0, started + i / RATE - time.monotonic()))
                    futures |= await client.publish([request])
                    if i + 1 == KILL_AFTER:
                        outcome["before"] = sum(f.done() for f in futures.values())
                        half_sent.set()
                done, pending = await asyncio.wait(futures.values(), timeout=180)
                outcome["pending"] = len(pending)
                outcome["statuses"] = {f.result().status for f in done}

        # The client runs in a thread of its own and the broker is restarted from this one: a broker
        # dies with the thread that started it (die_with_parent), so not from a short-lived helper.
        client = threading.Thread(target=lambda: asyncio.run(drive()))
        client.start()
        try:
            assert half_sent.wait(60), "the first requests were not sent within 60 s"
            stopped = time.monotonic()
            broker.stop()
            time.sleep(2)
            broker.start()
            outcome["down_s"] = time.monotonic() - stopped
        finally:
            client.join(240)
    print(f"\n[restart] broker down {outcome['down_s']:.1f} s after {KILL_AFTER} of {N} requests were sent and "
          f"{outcome['before']} answered; {outcome['pending']} unanswered after it came back")
    assert not client.is_alive()
    assert outcome["pending"] == 0 and outcome["statuses"] == {"ok"}
