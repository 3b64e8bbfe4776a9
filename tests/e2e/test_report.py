"""Analysts' commands against a running stack: feedback goes in, reports come out, erasure takes a subject out."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from streams.client.reply_client import ReplyClient
from streams.events import LLMRequest
from tests.conftest import make_stack

pytestmark = pytest.mark.kafka


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, capture_output=True, text=True, timeout=60)


def test_feedback_reaches_the_reports_while_the_stack_runs_and_after_it_stops(kafka_bootstrap, tmp_path):
    keys = {"HUGAI_ANALYST_KEY": "analyst-key-77", "HUGAI_OPERATOR_KEY": "operator-key-78"}
    dev, patch = make_stack(tmp_path, kafka_bootstrap, **keys)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "HUGAI_DATA_DIR": str(tmp_path),
           "HUGAI_REPORTS_PORT": str(dev.reports_port), **keys}
    try:
        dev.start()
        run = uuid.uuid4().hex[:8]
        requests = [LLMRequest(request_id=f"rep-{run}-{i}", task_type="security_review", prompt=f"check {i}",
                               metadata={"tenant": "acme" if i < 2 else "beta"}) for i in range(4)]

        async def call() -> dict:
            async with ReplyClient(dev.bootstrap) as client:
                return await client.call(requests, timeout=60)

        assert {r.status for r in asyncio.run(call()).values()} == {"ok"}
        for request, rating in zip(requests[:2], (5, 2)):
            done = _cli("feedback", request.request_id, "--rating", str(rating), "--success", env=env)
            assert done.returncode == 0, done.stderr
        deadline, rows = time.monotonic() + 30, []
        # Both feedback events, and the four attempts, must have reached ClickHouse: they travel on
        # different partitions and topics, so they arrive in no fixed order.
        report = {"error_rate": []}
        while time.monotonic() < deadline and not (rows and rows[0]["judged"] == 2 and report["error_rate"]
                                                   and report["error_rate"][0]["attempts"] == 4):
            done = _cli("report", "human_satisfaction_rating", "error_rate", "--since", "1h", "--format", "json", env=env)
            assert done.returncode == 0, done.stderr
            report = json.loads(done.stdout)
            rows = report["human_satisfaction_rating"]
            time.sleep(0.5)
        assert rows == [{"group": "claude-3-5-sonnet", "human_satisfaction_rating": 3.5, "judged": 2}]
        assert report["error_rate"][0]["attempts"] == 4
        plotted = _cli("report", "error_rate", "--since", "1h", "--plot", str(tmp_path / "trends.png"), env=env)
        assert plotted.returncode == 0, plotted.stderr
        assert (tmp_path / "trends.png").read_bytes()[:4] == b"\x89PNG"

        # The replay, while the sink owns chdb: it runs there (POST /replay), with the same answer a local one gives.
        replayed = _cli("replay", "--since", "1h", "--config", "config/models.yaml", "--by", "model", "--format", "json",
                        env=env)
        assert replayed.returncode == 0, replayed.stderr
        [claude] = [r for r in json.loads(replayed.stdout)["replay"] if r["model"] == "claude-3-5-sonnet"]
        assert claude["requests"] == 4 and claude["changed_model"] == 0 and claude["quality_backed"] == 4
        assert _cli("replay", "--config", "config/nope.yaml", env=env).returncode == 2

        bad = _cli("report", "vibes", env=env)
        assert bad.returncode == 2 and "unknown metric 'vibes'" in bad.stderr
        wrong_key = _cli("report", "error_rate", env={**env, "HUGAI_ANALYST_KEY": "guess"})
        assert wrong_key.returncode == 2 and "missing or unknown API key" in wrong_key.stderr
        no_operator = _cli("erase", "--tenant", "acme", "--yes", env={k: v for k, v in env.items() if k != "HUGAI_OPERATOR_KEY"})
        assert no_operator.returncode == 2 and "missing or unknown API key" in no_operator.stderr

        unconfirmed = _cli("erase", "--tenant", "acme", env=env)
        assert unconfirmed.returncode == 2 and "pass --yes" in unconfirmed.stderr
        erased = _cli("erase", "--tenant", "acme", "--yes", env=env)  # through the sink, which owns chdb
        assert erased.returncode == 0, erased.stderr
        assert "erased 8 row(s) of tenant 'acme': feedback 2, requests 2, attempts 2, routing_decisions 2" in erased.stdout
        after = json.loads(_cli("report", "human_satisfaction_rating", "error_rate", "--since", "1h", "--format", "json",
                                env=env).stdout)
        assert after["human_satisfaction_rating"] == [], "acme's feedback went with its requests"
        assert after["error_rate"][0]["attempts"] == 2, "beta's two calls remain"
    finally:
        dev.stop()
        patch.undo()
    # Nothing holds the embedded store now: report opens it itself and sees the same numbers.
    done = _cli("report", "error_rate", "--since", "1h", "--format", "csv", env=env)
    assert done.stdout.splitlines()[:2] == ["metric,group,error_rate,attempts", "error_rate,claude-3-5-sonnet,0,2"]
