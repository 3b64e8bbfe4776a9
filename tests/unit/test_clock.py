"""The fixtures' clock helpers: relative times, and keeping a one-day test clear of midnight."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.support import clock
from tests.support.clock import iso, yesterday_at


def test_yesterday_at_is_the_day_before_whatever_today_is():
    new_year = datetime(2027, 1, 1, 0, 0, 30, tzinfo=timezone.utc)
    assert yesterday_at(10, now=new_year) == datetime(2026, 12, 31, 10, tzinfo=timezone.utc)
    assert iso(datetime(2026, 3, 1, 10, 0, 0, 123_000, tzinfo=timezone.utc)) == "2026-03-01T10:00:00.123Z"


def test_clear_of_midnight_waits_only_when_the_day_ends_soon(monkeypatch):
    slept: list[float] = []

    class Late(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206
            return datetime(2026, 12, 31, 23, 59, 0, tzinfo=timezone.utc)

    class Early(Late):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206
            return datetime(2026, 12, 31, 12, 0, 0, tzinfo=timezone.utc)

    monkeypatch.setattr(clock, "datetime", Late)
    clock.clear_of_midnight(120, sleep=slept.append)
    monkeypatch.setattr(clock, "datetime", Early)
    clock.clear_of_midnight(120, sleep=slept.append)
    assert slept == [61.0]
