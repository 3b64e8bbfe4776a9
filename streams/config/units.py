"""Parsers for the seed's human-written values: money ("$15,000") and durations ("60s", "90_days").

They are pydantic annotated types, so a bad value fails validation with the key that holds it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator

__all__ = ["Money", "Duration", "parse_money", "parse_duration"]

_DURATION = re.compile(
    r"^\s*(?P<num>\d+(?:\.\d+)?)\s*_?(?P<unit>ms|s|sec|seconds?|m|min|minutes?|h|hours?|d|days?)(?:_max)?\s*$"
)
_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}


def parse_money(value: object) -> Decimal:
    """'$1,500.50' or 1500.5 -> Decimal('1500.50'). Negative amounts are refused."""
    if isinstance(value, bool):
        raise ValueError(f"expected an amount like '$500', got {value!r}")
    if isinstance(value, (int, float, Decimal)):
        amount = Decimal(str(value))
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        if text.startswith("-$"):
            text = "-" + text[2:]
        text = text.removeprefix("$")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"expected an amount like '$500', got {value!r}") from None
    else:
        raise ValueError(f"expected an amount like '$500', got {value!r}")
    if not amount.is_finite():
        raise ValueError(f"amount must be finite, got {value!r}")
    if amount < 0:
        raise ValueError(f"amount must not be negative, got {value!r}")
    return amount


def parse_duration(value: object) -> timedelta:
    """'1s', '60s', '300 s', '90_days', '7_days_max', or a number of seconds -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '60s' or '90_days', got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match["num"]) * _UNIT_SECONDS[match["unit"]]
    else:
        raise ValueError(f"expected a duration like '60s' or '90_days', got {value!r}")
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {value!r}")
    return timedelta(seconds=seconds)


Money = Annotated[Decimal, BeforeValidator(parse_money)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
