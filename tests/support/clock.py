"""Fixture times taken relative to now.

The per-request tables carry a 7-day TTL, so a row dated with a literal day is dropped by ClickHouse once
that day is a week old, and a test that was right last week fails today. Fixtures that need a fixed hour
(to bucket by minute or hour, or to sit outside a queried range) take it from here instead.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone


def yesterday_at(hour: int, *, now: datetime | None = None) -> datetime:
    """hour:00 UTC of the day before today: between 1 and 2 days old, far inside any TTL."""
    now = now or datetime.now(timezone.utc)
    return (now - timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)


def iso(at: datetime) -> str:
    """The wire form of a timestamp in the events and tables, with milliseconds only when there are some."""
    text = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if at.microsecond:
        text += f".{at.microsecond // 1000:03d}"
    return text + "Z"


def clear_of_midnight(seconds: float, *, sleep=time.sleep) -> None:  # noqa: ANN001 - injectable for its own test
    """For a test whose assertions are about one UTC day's budget window: if the day ends within
    `seconds`, wait for the next one to begin, so that the test does not depend on the time of day."""
    now = datetime.now(timezone.utc)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    left = (midnight - now).total_seconds()
    if left < seconds:
        sleep(left + 1)
