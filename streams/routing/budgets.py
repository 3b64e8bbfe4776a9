"""Budgets as pure rules: which windows a call touches, whether a reservation fits, which thresholds it crosses.

Windows are UTC calendar windows, named by key:
  daily:<provider>:<YYYY-MM-DD>    cost_controls.daily_budgets.<provider>
  monthly:<provider>:<YYYY-MM>     cost_controls.monthly_limits.provider_caps.<provider>
  monthly:total:<YYYY-MM>          cost_controls.monthly_limits.total_budget
(Faust's tumbling windows are fixed lengths from the epoch: right for days, wrong for months, so
the window is part of the key instead.)

A reservation fits when, for every window it touches, spent + reserved + this amount <= limit.
So once a cap is reached no reservation is granted, and the overshoot is bounded by the
reservations granted before that (and by actual costs over their estimates).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from streams.config import HugaiConfig

__all__ = ["BudgetWindow", "windows_for", "window_of", "first_refusal", "room", "crossed", "THRESHOLDS", "window_start"]

THRESHOLDS = (0.5, 0.8, 1.0)


@dataclass(frozen=True, slots=True)
class BudgetWindow:
    key: str  # e.g. daily:openai:2026-11-25
    budget: str  # the config key, e.g. daily_budgets.openai
    limit: float


def windows_for(config: HugaiConfig, provider: str, at: datetime) -> list[BudgetWindow]:
    controls = config.cost_controls
    at = at.astimezone(timezone.utc)
    day, month = at.strftime("%Y-%m-%d"), at.strftime("%Y-%m")
    windows = []
    if provider in controls.daily_budgets:
        windows.append(BudgetWindow(f"daily:{provider}:{day}", f"daily_budgets.{provider}",
                                    float(controls.daily_budgets[provider])))
    caps = controls.monthly_limits.provider_caps
    if provider in caps:
        windows.append(BudgetWindow(f"monthly:{provider}:{month}", f"provider_caps.{provider}", float(caps[provider])))
    windows.append(BudgetWindow(f"monthly:total:{month}", "total_budget", float(controls.monthly_limits.total_budget)))
    return windows


def window_of(config: HugaiConfig, key: str) -> BudgetWindow | None:
    """The window a key names, with its budget and limit under this config (None if none applies now)."""
    span, provider, _ = key.split(":", 2)
    controls = config.cost_controls
    if span == "daily" and provider in controls.daily_budgets:
        return BudgetWindow(key, f"daily_budgets.{provider}", float(controls.daily_budgets[provider]))
    if span == "monthly" and provider == "total":
        return BudgetWindow(key, "total_budget", float(controls.monthly_limits.total_budget))
    if span == "monthly" and provider in controls.monthly_limits.provider_caps:
        return BudgetWindow(key, f"provider_caps.{provider}", float(controls.monthly_limits.provider_caps[provider]))
    return None


def first_refusal(windows: list[BudgetWindow], amount: float, spent: Mapping[str, float],
                  reserved: Mapping[str, float]) -> str | None:
    """None if `amount` fits every window; else why not, naming the budget."""
    for window in windows:
        used = spent.get(window.key, 0.0) + reserved.get(window.key, 0.0)
        if used + amount > window.limit + 1e-12:
            return (f"{window.budget} (${window.limit:g} for {window.key.rsplit(':', 1)[1]}): "
                    f"${spent.get(window.key, 0.0):.6f} spent, ${reserved.get(window.key, 0.0):.6f} reserved, "
                    f"${amount:.6f} asked")
    return None


def room(windows: list[BudgetWindow], spent: Mapping[str, float], reserved: Mapping[str, float]) -> float:
    """What still fits every window (0 when one is full)."""
    return max(0.0, min((w.limit - spent.get(w.key, 0.0) - reserved.get(w.key, 0.0) for w in windows), default=0.0))


def crossed(before: float, after: float, limit: float) -> list[float]:
    """The thresholds (fractions of `limit`) that spending from `before` to `after` crosses."""
    if limit <= 0:
        return []
    return [t for t in THRESHOLDS if before < t * limit <= after + 1e-12]


@functools.lru_cache(maxsize=1024)  # the budget keeper asks for every window it keeps, on every settlement
def window_start(key: str) -> datetime:
    stamp = key.rsplit(":", 1)[1]
    parsed = datetime.strptime(stamp, "%Y-%m-%d" if len(stamp) == 10 else "%Y-%m")
    return parsed.replace(tzinfo=timezone.utc)
