"""A broker restart in the middle of a run: the worker and the sink reconnect, and no request is lost."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from streams.client.reply_client import ReplyClient
from streams.events import LLMRequest
from tests.conftest import own_broker, running_stack

pytestmark = [pytest.mark.kafka, pytest.mark.faults]

N = 300


def test_a_broker_restart_mid_run_loses_no_request(tmp_path_factory):
    run = uuid.uuid4().hex[:6]
    requests = [LLMRequest(request_id=f"restart-{run}-{i}", task_type="code_generation", prompt=f"survive {i}")
                for i in range(N)]
    outcome: dict = {}
    with own_broker(tmp_path_factory.mktemp("restart-kafka")) as broker, \
            running_stack(tmp_path_factory.mktemp("restart"), broker.bootstrap) as dev:

        async def drive() -> None:
            async with ReplyClient(dev.bootstrap) as client:
                futures = await client.publish(requests)
                while sum(f.done() for f in futures.values()) < N // 5:
                    await asyncio.sleep(0.02)
                outcome["before"] = sum(f.done() for f in futures.values())
                started = time.monotonic()
                # LocalKafka runs its own asyncio loop, so not on this one. The restarted broker dies with
                # the helper thread that started it, when this run ends: it is needed only until then.
                await asyncio.to_thread(broker.stop)
                await asyncio.sleep(2)
                await asyncio.to_thread(broker.start)
                outcome["down_s"] = time.monotonic() - started
                done, pending = await asyncio.wait(futures.values(), timeout=180)
                outcome["pending"] = len(pending)
                outcome["statuses"] = {f.result().status for f in done}

        asyncio.run(drive())
    print(f"\n[restart] broker down {outcome['down_s']:.1f} s after {outcome['before']} of {N} answers; "
          f"{outcome['pending']} unanswered after it came back")
    assert outcome["pending"] == 0 and outcome["statuses"] == {"ok"}
