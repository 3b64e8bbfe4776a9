"""GDPR erasure removes one subject's per-request rows and nobody else's."""

from __future__ import annotations

import pytest

from analytics import ChdbStore, apply_migrations
from analytics.erase import erase_subject
from tests.support.clock import iso, yesterday_at


def _rows(rid: str, tenant: str, user: str) -> dict[str, list[dict]]:
    at = yesterday_at(10)
    started, answered, rated = iso(at), iso(at.replace(second=1)), iso(at.replace(minute=5))
    base = {"environment": "test", "tenant": tenant, "user": user, "task_type": "t", "model": "m", "provider": "p",
            "simulated": False}
    return {
        "requests": [{**base, "request_id": rid, "created_at": started, "responded_at": answered,
                      "status": "ok", "attempts": 1, "fallback_used": False, "input_tokens": 1, "output_tokens": 1,
                      "cost_usd": 0.01, "total_ms": 5.0}],
        "attempts": [{**base, "attempt_id": f"{rid}:1", "request_id": rid, "attempt": 1, "started_at": started,
                      "status": "ok", "latency_ms": 5.0}],
        "routing_decisions": [{"request_id": rid, "decided_at": answered, "environment": "test", "tenant": tenant,
                               "user": user, "task_type": "t", "reason": "routing_strategy", "candidates": ["m"]}],
        "feedback": [{"request_id": rid, "given_at": rated, "human_satisfaction_rating": 4, "source": "t"}],
    }


def test_erasing_a_tenant_then_a_user(tmp_path):
    store = ChdbStore(tmp_path / "ch")
    try:
        apply_migrations(store)
        for rid, tenant, user in (("a1", "acme", "u1"), ("a2", "acme", "u2"), ("b1", "beta", "u1"), ("b2", "beta", "u3")):
            for table, rows in _rows(rid, tenant, user).items():
                store.insert(table, rows)
        assert erase_subject(store, tenant="acme") == {"feedback": 2, "requests": 2, "attempts": 2, "routing_decisions": 2}
        assert erase_subject(store, user="u1") == {"feedback": 1, "requests": 1, "attempts": 1, "routing_decisions": 1}
        assert erase_subject(store, user="nobody") == {"feedback": 0, "requests": 0, "attempts": 0, "routing_decisions": 0}
        for table in ("requests", "attempts", "routing_decisions", "feedback"):
            left = [r["request_id"] for r in store.query(f"SELECT request_id FROM {table} ORDER BY request_id")]
            assert left == ["b2"], table
        # The per-day rollup holds no subject and keeps the spend.
        assert store.query("SELECT sum(requests) AS n FROM spend_by_provider_day")[0]["n"] == 4
    finally:
        store.close()


def test_a_subject_must_be_named_once_and_not_empty(tmp_path):
    store = ChdbStore(tmp_path / "ch")
    try:
        with pytest.raises(ValueError, match="exactly one subject"):
            erase_subject(store)
        with pytest.raises(ValueError, match="exactly one subject"):
            erase_subject(store, tenant="a", user="b")
        with pytest.raises(ValueError, match="must not be empty"):
            erase_subject(store, tenant="")
    finally:
        store.close()


def test_quotes_in_a_subject_cannot_break_out(tmp_path):
    store = ChdbStore(tmp_path / "ch")
    try:
        apply_migrations(store)
        for table, rows in _rows("x1", "o'brien", "u").items():
            store.insert(table, rows)
        assert erase_subject(store, tenant="x' OR 1=1 --") == {"feedback": 0, "requests": 0, "attempts": 0,
                                                              "routing_decisions": 0}
        assert erase_subject(store, tenant="o'brien")["requests"] == 1
    finally:
        store.close()
