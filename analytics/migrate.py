"""Apply the numbered migrations in analytics/migrations, once each, in order.

The files are the single source of truth. Each is idempotent (IF NOT EXISTS), and each applied
version is recorded in schema_migrations, so running this at every start is safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from analytics.store import Store

__all__ = ["Migration", "MIGRATIONS_DIR", "list_migrations", "apply_migrations"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def statements(self) -> list[str]:
        body = "\n".join(line for line in self.path.read_text().splitlines() if not line.lstrip().startswith("--"))
        return [s.strip() for s in body.split(";") if s.strip()]


def list_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} must be named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration numbers in {directory}")
    return found


def apply_migrations(store: Store, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply what is not yet recorded; return the names applied now."""
    store.command(_LEDGER)
    done = {int(row["version"]) for row in store.query("SELECT version FROM schema_migrations FINAL")}
    applied = []
    for migration in list_migrations(directory):
        if migration.version in done:
            continue
        for statement in migration.statements():
            store.command(statement)
        store.insert("schema_migrations", [{"version": migration.version, "name": migration.name}])
        applied.append(f"{migration.version:04d}_{migration.name}")
    return applied
