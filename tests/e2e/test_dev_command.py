"""`hugai-llm dev` as a user runs it: its own broker, the worker, the sink, the demo, a clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.kafka.localkafka import free_port

pytestmark = pytest.mark.kafka


def _env(tmp_path) -> dict[str, str]:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL")) and k != "KAFKA_BOOTSTRAP_SERVERS"}
    env["HUGAI_DATA_DIR"] = str(tmp_path / "data")
    return env


def _start_dev(tmp_path, *ports: int) -> tuple[subprocess.Popen, "Path"]:  # noqa: ANN001
    """`hugai-llm dev` with its output in a file (a pipe nobody reads could fill and block it), once ready."""
    kafka_port, http_port, reports_port = ports
    out = tmp_path / "dev.out"
    with open(out, "w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "dev", "--kafka-port", str(kafka_port), "--http-port", str(http_port),
             "--reports-port", str(reports_port)],
            env=_env(tmp_path), stdout=sink, stderr=subprocess.STDOUT, text=True,
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and "hugai-llm ready" not in out.read_text():
        assert process.poll() is None, f"dev exited before it was ready:\n{out.read_text()}"
        time.sleep(0.2)
    assert "hugai-llm ready" in out.read_text(), out.read_text()
    return process, out


def _stacks(process: subprocess.Popen, out) -> str:  # noqa: ANN001
    """What a hung dev is doing: it dumps its threads' stacks on SIGUSR1."""
    process.send_signal(signal.SIGUSR1)
    time.sleep(1)
    return out.read_text()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_dev_demo_once_runs_the_seed_task_types_on_the_simulated_provider_and_exits(tmp_path):
    kafka_port, http_port, reports_port = free_port(), free_port(), free_port()
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "dev", "--demo", "--once",
         "--kafka-port", str(kafka_port), "--http-port", str(http_port), "--reports-port", str(reports_port)],
        env=_env(tmp_path), capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ready = [line for line in done.stdout.splitlines() if line.startswith("hugai-llm ready")]
    assert len(ready) == 1
    assert f"kafka=127.0.0.1:{kafka_port}" in ready[0] and f"http=http://127.0.0.1:{http_port}" in ready[0]
    assert "clickhouse=chdb:" in ready[0] and f"reports=http://127.0.0.1:{reports_port}/reports" in ready[0]
    assert "SIMULATED" in done.stdout
    for task in ("complex_reasoning", "code_generation", "requirements_analysis", "security_review",
                 "performance_optimization"):
        assert re.search(rf"│ {task} +│ [\w.-]+ +│ ok 4/4 ", done.stdout), task
    assert "did not succeed" not in done.stderr
    # The agent's tool loop: the model calls the tool, the demo runs it, the model answers with its result.
    assert re.search(r"agent tool loop, turn 1: gpt-4-turbo called get_weather\(\{\"city\": \"example\"\}\) \(tool_calls\)",
                     done.stdout), done.stdout
    assert re.search(r"agent tool loop, turn 2: gpt-4-turbo answered \(stop\): .*using the tool's result", done.stdout)
    assert not _listening(kafka_port) and not _listening(http_port), "everything it started must be stopped"
    # The replay hint, and the replay it names on the demo's traffic (the stack is stopped: chdb opens here).
    assert "hugai-llm replay --since 1h --config config/models.yaml" in done.stdout
    replayed = subprocess.run([sys.executable, "-m", "streams.cli", "replay", "--since", "1h", "--config",
                               "config/models.yaml", "--format", "json"], env=_env(tmp_path), capture_output=True,
                              text=True, timeout=120)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    total = next(row for row in json.loads(replayed.stdout)["replay"] if row["task_type"] == "(total)")
    # The demo's requests, replayed under the config that served them: the same models, none refused.
    assert total["requests"] >= 20 and total["refused"] == 0 and total["changed_model"] == 0


def test_dev_stops_everything_on_sigterm(tmp_path):
    ports = free_port(), free_port(), free_port()
    process, out = _start_dev(tmp_path, *ports)
    try:
        assert all(map(_listening, ports))
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=120) == 0, out.read_text()
        except subprocess.TimeoutExpired:
            pytest.fail(f"dev did not stop within 120 s of SIGTERM; its output and stacks:\n{_stacks(process, out)}")
    finally:
        if process.poll() is None:
            process.kill()
    assert not any(map(_listening, ports))


def test_a_killed_dev_leaves_nothing_behind(tmp_path):
    ports = free_port(), free_port(), free_port()
    process, _ = _start_dev(tmp_path, *ports)
    try:
        assert all(map(_listening, ports))
        process.kill()  # kill -9: no chance to stop its children
        process.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(map(_listening, ports)):
            time.sleep(0.5)
    finally:
        if process.poll() is None:
            process.kill()
    assert not any(map(_listening, ports)), "the broker, worker and sink die with dev"
