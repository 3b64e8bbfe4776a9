"""Timers that keep provider keys current and report keys due for rotation.

The AWS secret is re-read every HUGAI_KEY_REFRESH_S seconds, in a thread, so a rotated key is
used without a restart (files are re-read on use). Keys older than rotation_frequency are
reported at start and then daily, as KeyRotationDue events (metadata only) and a warning.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import faust

from streams.config.keyring import KeyRing
from streams.config.settings import Settings
from streams.events import KeyRotationDue, utcnow
from streams.kafka.topics import Topics

__all__ = ["register_key_upkeep", "rotation_events"]

log = logging.getLogger(__name__)
ONE_DAY_S = 86_400.0


def rotation_events(keys: KeyRing, *, max_age: timedelta) -> list[KeyRotationDue]:
    now = utcnow()
    return [
        KeyRotationDue(event_id=f"{due.family}:{due.source}:{now.date()}", at=now, family=due.family, source=due.source,
                       age_days=round(due.age.total_seconds() / 86400, 2), max_age_days=max_age.total_seconds() / 86400)
        for due in keys.rotation_due(max_age=max_age, now=now)
    ]


def register_key_upkeep(app: faust.App, topics: Topics, keys: KeyRing, *, settings: Settings, max_age: timedelta) -> None:
    @app.timer(interval=settings.hugai_key_refresh_s)
    async def refresh_keys() -> None:
        try:
            await asyncio.to_thread(keys.refresh)
        except Exception as exc:  # noqa: BLE001 - keep the keys we have; say why
            log.error("provider keys: AWS secret refresh failed: %s", type(exc).__name__)

    async def report() -> None:
        for event in rotation_events(keys, max_age=max_age):
            log.warning("provider key for %s (%s) is %.0f days old; rotation_frequency is %.0f days",
                        event.family, event.source, event.age_days, event.max_age_days)
            await topics.telemetry.send(key=event.family.encode(), value=event.to_bytes(), force=True)

    @app.timer(interval=ONE_DAY_S)
    async def report_rotation_daily() -> None:
        await report()

    @app.task
    async def report_rotation_at_start() -> None:
        await report()
