"""Talking to a running test stack: ask it, read each worker's view of the cluster, wait on it."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable

from streams.devstack import DevStack
from streams.events import LLMRequest, LLMResponse
from streams.reply_client import ReplyClient

__all__ = ["ask", "cluster_view", "wait_for"]


def ask(dev: DevStack, requests: list[LLMRequest], *, timeout: float = 60.0) -> dict[str, LLMResponse]:
    """Send `requests` through Kafka and wait for every answer."""
    async def call() -> dict[str, LLMResponse]:
        async with ReplyClient(dev.bootstrap) as client:
            return await client.call(requests, timeout=timeout)

    return asyncio.run(call())


def cluster_view(dev: DevStack) -> dict[str, dict]:
    """Each worker's GET /cluster, by role."""
    views = {}
    for role, port in dev.workers.items():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/cluster", timeout=5) as response:
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
