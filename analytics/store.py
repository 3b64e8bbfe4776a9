"""One small interface over ClickHouse: a server through clickhouse-connect, or embedded chdb.

Both take the same SQL. Queries come back as JSONEachRow and are parsed the same way, so a
result cannot differ by engine. chdb locks its data directory: only one process may open it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Store", "StoreError", "ChdbStore", "ServerStore", "LockedStore", "open_store", "INSERT_SETTINGS"]

# ISO timestamps with a zone ("...Z") arrive from our JSON events.
INSERT_SETTINGS = {"date_time_input_format": "best_effort", "input_format_skip_unknown_fields": 1}


class StoreError(RuntimeError):
    """ClickHouse refused or could not run a statement. The message carries ClickHouse's reason."""


class Store(Protocol):
    description: str

    def command(self, sql: str) -> None: ...
    def query(self, sql: str) -> list[dict[str, Any]]: ...
    def insert(self, table: str, rows: list[dict[str, Any]]) -> None: ...
    def close(self) -> None: ...


def _rows(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def _json_block(rows: list[dict[str, Any]]) -> bytes:
    return b"\n".join(json.dumps(row, separators=(",", ":")).encode() for row in rows)


class ChdbStore:
    def __init__(self, path: Path):
        from chdb import session

        path.mkdir(parents=True, exist_ok=True)
        self.description = f"chdb:{path}"
        try:
            self._session = session.Session(str(path))
        except Exception as exc:  # chdb raises bare RuntimeErrors, e.g. "Cannot lock file .../status"
            raise StoreError(f"cannot open embedded ClickHouse at {path}: {exc}") from None

    def _run(self, sql: str, fmt: str = "CSV") -> bytes:
        try:
            return self._session.query(sql, fmt).bytes()
        except Exception as exc:
            raise StoreError(str(exc).strip()) from None

    def command(self, sql: str) -> None:
        self._run(sql)

    def query(self, sql: str) -> list[dict[str, Any]]:
        return _rows(self._run(sql, "JSONEachRow"))

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        settings = ", ".join(f"{k}={v!r}" for k, v in INSERT_SETTINGS.items())
        self._run(f"INSERT INTO {table} SETTINGS {settings} FORMAT JSONEachRow\n" + _json_block(rows).decode())

    def close(self) -> None:
        self._session.close()


class ServerStore:
    def __init__(self, url: str):
        from urllib.parse import urlsplit

        import clickhouse_connect

        parts = urlsplit(url)
        self.description = f"clickhouse:{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"
        try:
            self._client = clickhouse_connect.get_client(dsn=url)
        except Exception as exc:
            raise StoreError(f"cannot connect to ClickHouse at {self.description}: {type(exc).__name__}") from None

    def command(self, sql: str) -> None:
        try:
            self._client.command(sql)
        except Exception as exc:
            raise StoreError(str(exc).strip()) from None

    def query(self, sql: str) -> list[dict[str, Any]]:
        try:
            return _rows(self._client.raw_query(sql, fmt="JSONEachRow"))
        except Exception as exc:
            raise StoreError(str(exc).strip()) from None

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            self._client.raw_insert(table, insert_block=_json_block(rows), settings=INSERT_SETTINGS, fmt="JSONEachRow")
        except Exception as exc:
            raise StoreError(str(exc).strip()) from None

    def close(self) -> None:
        self._client.close()


class LockedStore:
    """One statement at a time: the sink's writes and the report server's reads share a chdb session."""

    def __init__(self, store: Store):
        self._store = store
        self._lock = threading.Lock()
        self.description = store.description

    def command(self, sql: str) -> None:
        with self._lock:
            self._store.command(sql)

    def query(self, sql: str) -> list[dict[str, Any]]:
        with self._lock:
            return self._store.query(sql)

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self._store.insert(table, rows)

    def close(self) -> None:
        with self._lock:
            self._store.close()


def open_store(clickhouse_url: str | None, chdb_path: Path) -> Store:
    """A server when CLICKHOUSE_URL is set, else embedded chdb under `chdb_path`."""
    return ServerStore(clickhouse_url) if clickhouse_url else ChdbStore(chdb_path)
