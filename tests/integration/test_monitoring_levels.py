"""Each monitoring level writes the rows it promises and not the others.

A request served in-process (every family simulated) at each level; its telemetry record filed by the
sink's own decoding into embedded ClickHouse; then what each table holds for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from analytics import ChdbStore, apply_migrations
from analytics.sink import rows_of
from streams.agents import RequestServer
from streams.agents.provider_directory import build_directory
from streams.config import load_config
from streams.config.settings import ProviderCredentials
from streams.events import LLMRequest, RequestServed

CONFIG = load_config()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = ChdbStore(tmp_path_factory.mktemp("levels") / "ch")
    apply_migrations(store)
    yield store
    store.close()


async def _served_at(level: str) -> bytes:
    async with httpx.AsyncClient() as client:
        server = RequestServer(config=CONFIG, directory=build_directory(CONFIG, ProviderCredentials(), client),
                               environment="development", monitoring_level=level)
        served = await server.serve(LLMRequest(request_id=f"level-{level}", task_type="complex_reasoning",
                                               prompt="what is kept of me"))
    return RequestServed.encode(served.telemetry)


@pytest.mark.parametrize(("level", "attempts", "decisions", "scored"), [
    ("basic", 0, 0, False),
    ("detailed", 1, 1, False),
    ("comprehensive", 1, 1, True),
])
async def test_each_level_writes_the_rows_it_promises(store, level, attempts, decisions, scored):
    by_table: dict[str, list[dict]] = {}
    for table, row in rows_of(await _served_at(level)):
        by_table.setdefault(table, []).append(row)
    for table, rows in by_table.items():
        store.insert(table, rows)
    rid = f"'level-{level}'"

    def count(table: str) -> int:
        return int(store.query(f"SELECT count() AS n FROM {table} WHERE request_id = {rid}")[0]["n"])

    assert count("requests") == 1
    assert (count("attempts"), count("routing_decisions")) == (attempts, decisions)
    if decisions:
        [decision] = store.query(f"SELECT scores, quality, quality_judgments, candidates, chosen_model "
                                 f"FROM routing_decisions WHERE request_id = {rid}")
        assert decision["chosen_model"] == "gpt-4-turbo" and decision["candidates"]
        assert bool(decision["scores"]) is scored and bool(decision["quality"]) is scored
        if scored:
            assert decision["quality"]["gpt-4-turbo"] == pytest.approx(0.95)  # the tier's prior: nothing judged
            assert decision["quality_judgments"]["gpt-4-turbo"] == 0


async def test_an_environment_without_a_profile_records_everything_and_the_default_follows_the_profile():
    async with httpx.AsyncClient() as client:
        directory = build_directory(CONFIG, ProviderCredentials(), client)
        levels = {env: RequestServer(config=CONFIG, directory=directory, environment=env).monitoring_level
                  for env in ("development", "staging", "production", "test")}
    assert levels == {"development": "basic", "staging": "detailed", "production": "comprehensive",
                      "test": "comprehensive"}


def test_a_report_of_an_attempts_metric_without_rows_says_which_level_records_them(tmp_path):
    # A process of its own, as a user runs it: chdb allows one data path per process.
    env = {k: v for k, v in os.environ.items() if k != "CLICKHOUSE_URL"} | {"HUGAI_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "streams.cli", "report", "error_rate", "total_response_time",
                             "--since", "1h", "--format", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    hint = " ".join(result.stderr.split())  # the console wraps long lines
    assert "error_rate: no rows since 1h. It reads provider attempts" in hint
    assert "monitoring_level detailed or comprehensive" in hint
    assert "total_response_time: no rows" not in hint, "metrics over requests are recorded at every level"
    assert json.loads(result.stdout)["error_rate"] == []
