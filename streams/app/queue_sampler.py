"""Queue depth samples for the real-time dashboard.

Every worker reports its provider calls in flight every few seconds. The leader alone reports
the requests waiting: the router group's lag on llm.requests (published, not yet committed).
"""

from __future__ import annotations

import logging
import os
import socket

import faust

from streams.agents.serve import RequestServer
from streams.app.faust_app import APP_ID
from streams.events import QueueDepthSampled, utcnow
from streams.events.topic_names import REQUESTS
from streams.kafka.admin import group_lag
from streams.kafka.topics import Topics

__all__ = ["register_queue_sampler", "SAMPLE_EVERY_S"]

log = logging.getLogger(__name__)
SAMPLE_EVERY_S = 5.0


def register_queue_sampler(app: faust.App, topics: Topics, server: RequestServer, *, bootstrap: str,
                           providers: list[str]) -> None:
    worker = f"{socket.gethostname()}-{os.getpid()}"

    async def send(event: QueueDepthSampled) -> None:
        await topics.telemetry.send(key=worker.encode(), value=event.to_bytes(), force=True)

    @app.timer(interval=SAMPLE_EVERY_S)
    async def sample_in_flight() -> None:
        at = utcnow()
        for provider in providers:
            await send(QueueDepthSampled(at=at, worker=worker, provider=provider, in_flight=server.in_flight[provider]))

    @app.timer(interval=2 * SAMPLE_EVERY_S, on_leader=True)
    async def sample_waiting() -> None:
        try:
            waiting = await group_lag(bootstrap, APP_ID, REQUESTS)
        except Exception as exc:  # noqa: BLE001 - a missed sample is not worth a crash
            log.warning("queue depth: cannot read the router group's lag: %s", type(exc).__name__)
            return
        await send(QueueDepthSampled(at=utcnow(), worker=worker, provider="", waiting=waiting))
