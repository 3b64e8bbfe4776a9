"""Apply the configured data_retention as the TTL of every per-request table.

The migrations create the tables with the seed's 7 days; a config with a shorter retention
(say "3_days") tightens it at sink start. Rollups hold no request data and are not touched.
"""

from __future__ import annotations

from datetime import timedelta

from analytics.store import Store

__all__ = ["PER_REQUEST_TABLES", "apply_retention"]

# table -> the time column its rows age by
PER_REQUEST_TABLES = {
    "requests": "created_at",
    "attempts": "started_at",
    "routing_decisions": "decided_at",
    "feedback": "given_at",
}


def apply_retention(store: Store, retention: timedelta) -> None:
    seconds = int(retention.total_seconds())
    if seconds <= 0:
        raise ValueError("data_retention must be positive")
    # Whole days read as the migrations write them, so a 7-day config leaves the DDL as it was.
    interval = f"INTERVAL {seconds // 86400} DAY" if seconds % 86400 == 0 else f"INTERVAL {seconds} SECOND"
    for table, column in PER_REQUEST_TABLES.items():
        store.command(f"ALTER TABLE {table} MODIFY TTL toDateTime({column}) + {interval}")
