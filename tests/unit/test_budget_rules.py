"""Budget windows, whether a reservation fits, and threshold crossings: pure rules as tables."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from streams.config import load_config
from streams.routing.budgets import BudgetWindow, crossed, first_refusal, window_of, window_start, windows_for

CONFIG = load_config()
AT = datetime(2026, 11, 25, 23, 59, tzinfo=timezone.utc)


def test_a_call_touches_its_providers_day_and_month_and_the_monthly_total_in_utc_calendar_windows():
    assert windows_for(CONFIG, "openai", AT) == [
        BudgetWindow("daily:openai:2026-11-25", "daily_budgets.openai", 500.0),
        BudgetWindow("monthly:openai:2026-11", "provider_caps.openai", 8000.0),
        BudgetWindow("monthly:total:2026-11", "total_budget", 15000.0)]
    # 1 am on 1 December in UTC+2 is still November in UTC
    early = datetime(2026, 12, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert windows_for(CONFIG, "local", early) == [BudgetWindow("monthly:total:2026-11", "total_budget", 15000.0)]
    assert window_start("daily:openai:2026-11-25") == datetime(2026, 11, 25, tzinfo=timezone.utc)
    for window in windows_for(CONFIG, "openai", AT):
        assert window_of(CONFIG, window.key) == window
    assert window_of(CONFIG, "daily:local:2026-11-25") is None
    assert window_start("monthly:total:2026-11") == datetime(2026, 11, 1, tzinfo=timezone.utc)


D, T = "daily:openai:2026-11-25", "monthly:total:2026-11"
WINDOWS = [BudgetWindow(D, "daily_budgets.openai", 10.0), BudgetWindow(T, "total_budget", 100.0)]


@pytest.mark.parametrize(("amount", "spent", "reserved", "refused_by"), [
    (1.0, {D: 8.0}, {D: 1.0}, None),  # exactly at the limit fits
    (1.01, {D: 8.0}, {D: 1.0}, "daily_budgets.openai"),  # holds count as spent
    (1.0, {T: 99.5}, {}, "total_budget"),
    (0.0, {D: 10.0}, {}, None),  # a free call never breaks a budget
])
def test_a_reservation_fits_only_if_spent_plus_held_plus_it_stays_within_every_window(amount, spent, reserved, refused_by):
    refusal = first_refusal(WINDOWS, amount, spent, reserved)
    assert (refusal.split(" ")[0] if refusal else None) == refused_by
    if refused_by == "daily_budgets.openai":
        assert refusal == "daily_budgets.openai ($10 for 2026-11-25): $8.000000 spent, $1.000000 reserved, $1.010000 asked"


@pytest.mark.parametrize(("before", "after", "expected"), [
    (0.0, 4.9, []), (4.9, 5.0, [0.5]), (4.0, 8.5, [0.5, 0.8]), (7.9, 10.0, [0.8, 1.0]), (8.0, 9.0, []),
    (10.0, 11.0, []),
])
def test_each_threshold_is_crossed_once_on_the_way_up(before, after, expected):
    assert crossed(before, after, 10.0) == expected
