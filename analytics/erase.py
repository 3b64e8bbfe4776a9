"""GDPR erasure: delete one subject's per-request rows, and say how many went from each table.

A subject is a tenant (or team) or a user, as given in request metadata. Rollups hold no
subject, so they are untouched. Feedback carries no subject of its own: it goes with the
subject's requests, so it is deleted first, while those requests can still be found.
"""

from __future__ import annotations

from analytics.sink import quote
from analytics.store import Store

__all__ = ["erase_subject", "SUBJECT_TABLES"]

# Tables with tenant and user columns.
SUBJECT_TABLES = ("requests", "attempts", "routing_decisions")


def erase_subject(store: Store, *, tenant: str | None = None, user: str | None = None) -> dict[str, int]:
    if (tenant is None) == (user is None):
        raise ValueError("name exactly one subject: a tenant or a user")
    column, value = ("tenant", tenant) if tenant is not None else ("user", user)
    if not value:
        raise ValueError(f"the {column} to erase must not be empty")
    where = f"{column} = {quote(value)}"
    subject_requests = f"SELECT request_id FROM requests WHERE {where}"
    deleted: dict[str, int] = {}
    targets = [("feedback", f"request_id IN ({subject_requests})")] + [(t, where) for t in SUBJECT_TABLES]
    for table, condition in targets:
        deleted[table] = int(store.query(f"SELECT count() AS n FROM {table} WHERE {condition}")[0]["n"])
        if deleted[table]:
            store.command(f"DELETE FROM {table} WHERE {condition}")
    return deleted
