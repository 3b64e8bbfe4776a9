"""Expand the Grafana ClickHouse plugin's macros as the plugin does (pkg/macros/macros.go in
grafana/clickhouse-datasource), so panel and alert SQL can run on our engine in tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

__all__ = ["expand"]

_MACRO = re.compile(r"\$__(\w+)(?:\(([^()]*)\))?")


def _dt(moment: datetime) -> str:
    return f"toDateTime({int(moment.timestamp())})"


def _dt64(moment: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(moment.timestamp() * 1000)})"


def _date(moment: datetime) -> str:
    return f"toDate('{moment.strftime('%Y-%m-%d')}')"


def expand(sql: str, *, start: datetime, end: datetime, interval_s: float) -> str:
    """`sql` with every $__macro replaced for the time range [start, end] and the panel interval."""
    seconds = int(max(interval_s, 1))
    millis = int(max(interval_s * 1000, 1))

    def one_arg(args: list[str], name: str) -> str:
        if len(args) != 1:
            raise ValueError(f"$__{name} expects 1 argument, received {len(args)}")
        return args[0]

    macros: dict[str, Callable[[list[str]], str]] = {
        "fromTime": lambda a: _dt(start),
        "toTime": lambda a: _dt(end),
        "fromTime_ms": lambda a: _dt64(start),
        "toTime_ms": lambda a: _dt64(end),
        "timeFilter": lambda a: (c := one_arg(a, "timeFilter")) and f"{c} >= {_dt(start)} AND {c} <= {_dt(end)}",
        "timeFilter_ms": lambda a: (c := one_arg(a, "timeFilter_ms")) and f"{c} >= {_dt64(start)} AND {c} <= {_dt64(end)}",
        "dateFilter": lambda a: (c := one_arg(a, "dateFilter")) and f"{c} >= {_date(start)} AND {c} <= {_date(end)}",
        "timeInterval": lambda a: f"toStartOfInterval(toDateTime({one_arg(a, 'timeInterval')}), INTERVAL {seconds} second)",
        "timeInterval_ms": lambda a: (f"toStartOfInterval(toDateTime64({one_arg(a, 'timeInterval_ms')}, 3), "
                                      f"INTERVAL {millis} millisecond)"),
        "interval_s": lambda a: str(seconds),
    }

    def replace(match: re.Match) -> str:
        name, raw = match[1], match[2]
        if name not in macros:
            raise ValueError(f"unknown macro $__{name}")
        args = [a.strip().replace('"', "").replace("'", "") for a in raw.split(",")] if raw else []
        return macros[name](args)

    return _MACRO.sub(replace, sql)
