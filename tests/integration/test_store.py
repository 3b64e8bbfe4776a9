"""Migrations and the store on embedded ClickHouse (chdb), from an empty data directory."""

from __future__ import annotations

import subprocess
import sys

import pytest

from analytics import ChdbStore, StoreError, apply_migrations, list_migrations
from tests.support.clock import iso, yesterday_at


def test_migrations_apply_from_empty_once_and_record_themselves(tmp_path):
    store = ChdbStore(tmp_path / "ch")
    try:
        first = apply_migrations(store)
        assert first == [f"{m.version:04d}_{m.name}" for m in list_migrations()]
        assert apply_migrations(store) == []
        versions = [int(r["version"]) for r in store.query("SELECT version FROM schema_migrations FINAL ORDER BY version")]
        assert versions == [m.version for m in list_migrations()]
        ddl = store.query("SELECT create_table_query FROM system.tables WHERE name = 'requests'")[0]["create_table_query"]
        assert "TTL toDateTime(created_at) + toIntervalDay(7)" in ddl
    finally:
        store.close()


def test_every_migration_says_why_it_exists():
    for migration in list_migrations():
        assert migration.path.read_text().startswith("-- Why:"), migration.path.name


def test_replayed_rows_fold_into_one(tmp_path):
    store = ChdbStore(tmp_path / "ch")
    try:
        apply_migrations(store)
        at = yesterday_at(10)
        row = {"request_id": "r1", "created_at": iso(at.replace(microsecond=123_000)), "responded_at": iso(at.replace(second=1)),
               "task_type": "t", "environment": "test", "status": "ok", "attempts": 1, "fallback_used": False,
               "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.001, "total_ms": 12.5, "simulated": True}
        store.insert("requests", [row])
        store.insert("requests", [row])
        counted = store.query("SELECT count() AS n, sum(cost_usd) AS c FROM requests FINAL")[0]
        assert int(counted["n"]) == 1 and float(counted["c"]) == pytest.approx(0.001)
    finally:
        store.close()


def test_a_second_process_cannot_open_the_same_chdb_directory(tmp_path):
    path = tmp_path / "ch"
    store = ChdbStore(path)
    try:
        probe = subprocess.run(
            [sys.executable, "-c", f"from analytics import ChdbStore; ChdbStore(__import__('pathlib').Path({str(path)!r}))"],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        store.close()
    assert probe.returncode != 0
    assert "Cannot lock file" in probe.stderr and "status" in probe.stderr


def test_bad_sql_is_a_store_error_with_clickhouses_reason(tmp_path):
    store = ChdbStore(tmp_path / "ch")
    try:
        with pytest.raises(StoreError, match="UNKNOWN_TABLE"):
            store.query("SELECT * FROM no_such_table")
    finally:
        store.close()


def test_the_configured_retention_becomes_the_ttl_of_every_per_request_table(tmp_path):
    from datetime import timedelta

    from analytics.retention import PER_REQUEST_TABLES, apply_retention

    store = ChdbStore(tmp_path / "ch")
    try:
        apply_migrations(store)
        apply_retention(store, timedelta(days=3))
        for table, column in PER_REQUEST_TABLES.items():
            ddl = store.query(f"SELECT create_table_query AS q FROM system.tables WHERE name = '{table}'")[0]["q"]
            assert f"TTL toDateTime({column}) + toIntervalDay(3)" in ddl, ddl
        apply_retention(store, timedelta(hours=12))
        ddl = store.query("SELECT create_table_query AS q FROM system.tables WHERE name = 'requests'")[0]["q"]
        assert "toIntervalSecond(43200)" in ddl
        rollup = store.query("SELECT create_table_query AS q FROM system.tables WHERE name = 'spend_by_provider_day'")[0]["q"]
        assert "toIntervalDay(400)" in rollup
    finally:
        store.close()


def test_rows_older_than_the_retention_are_dropped_and_younger_ones_kept(tmp_path):
    """The 7-day TTL itself, with ages taken from now: 8 days old is gone, 6 days old stays."""
    from datetime import datetime, timedelta, timezone

    from analytics.retention import PER_REQUEST_TABLES

    now = datetime.now(timezone.utc)
    store = ChdbStore(tmp_path / "ch")
    try:
        apply_migrations(store)
        for table, column in PER_REQUEST_TABLES.items():
            rows = [{"request_id": f"aged-{days}", column: iso(now - timedelta(days=days))} for days in (8, 6)]
            if table == "attempts":
                rows = [{**row, "attempt_id": f"{row['request_id']}:1"} for row in rows]
            store.insert(table, rows)
            store.command(f"OPTIMIZE TABLE {table} FINAL")  # TTL is applied when parts are written and merged
            kept = [r["request_id"] for r in store.query(f"SELECT request_id FROM {table} ORDER BY request_id")]
            assert kept == ["aged-6"], table
    finally:
        store.close()
