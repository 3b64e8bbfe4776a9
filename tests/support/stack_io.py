"""Talking to a running test stack: ask it, read each worker's view of the cluster, wait on it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable

from streams.cli.devstack import DevStack
from streams.client.reply_client import ReplyClient
from streams.events import LLMRequest, LLMResponse
from tests.conftest import OPERATOR_KEY

__all__ = ["ask", "cluster_view", "hugai", "wait_for", "where_tasks_wait"]


def ask(dev: DevStack, requests: list[LLMRequest], *, timeout: float = 60.0) -> dict[str, LLMResponse]:
    """Send `requests` through Kafka and wait for every answer."""
    async def call() -> dict[str, LLMResponse]:
        async with ReplyClient(dev.bootstrap) as client:
            return await client.call(requests, timeout=timeout)

    return asyncio.run(call())


def hugai(dev: DevStack, *args: str) -> subprocess.CompletedProcess:
    """`hugai-llm ARGS` as an operator would run it against `dev`, with the stack's config (HUGAI_CONFIG)."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": dev.bootstrap, "HUGAI_CONFIG": os.environ["HUGAI_CONFIG"]}
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def cluster_view(dev: DevStack) -> dict[str, dict]:
    """Each worker's GET /cluster, by role."""
    views = {}
    for role, port in dev.workers.items():
        request = urllib.request.Request(f"http://127.0.0.1:{port}/cluster",
                                         headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            views[role] = json.loads(response.read())
    return views


def wait_for(check: Callable[[], object], what: str, timeout: float = 20.0,
             details: Callable[[], str] = lambda: ""):  # noqa: ANN201 - whatever check returns
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} {details()}")


def where_tasks_wait(dev: DevStack, role: str = "worker", *, frames: int = 4) -> str:
    """For a failure message: ask `role` for its stacks (SIGUSR1, streams/app/stacks.py) and count its tasks
    by the innermost `frames` frames they wait in. The whole dump stays in its log."""
    log = dev.log_dir / f"{role}.log"
    start = log.stat().st_size
    os.kill(dev.children[role].pid, signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "TASKS (" not in (dump := log.read_bytes()[start:].decode(errors="replace")):
        time.sleep(0.1)
    # The worker's stderr goes through logging: each line of the dump carries a log prefix.
    tasks = [line.split("TASK ", 1)[1] for line in dump.splitlines() if "TASK " in line]
    waits = Counter(" <- ".join(task.rsplit(": ", 1)[-1].split(" <- ")[:frames]) for task in tasks)
    if not waits:
        return f"no stack dump from {role} within 5 s (see {log})"
    return "\n".join(f"{count:4d}  {where}" for where, count in waits.most_common(12)) + f"\n(all of it in {log})"
