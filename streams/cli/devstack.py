"""`hugai-llm dev`: start Kafka, the worker and the sink as child processes, and stop them all.

Each child gets its own log file under the data directory, so the terminal keeps the ready line
and the demo's summary. Stopping sends SIGTERM, waits, then kills what is left.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from streams.config.settings import Settings
from streams.kafka.localkafka import LocalKafka, LocalKafkaCluster, local_kafka
from streams.kafka.localkafka.processes import die_with_parent, terminate

__all__ = ["DevStack", "StackError"]


class StackError(RuntimeError):
    """A part of the stack failed to start. The message names the part and its log file."""


@dataclass
class DevStack:
    settings: Settings
    kafka_port: int = 9092
    http_port: int = 6066
    reports_port: int = 6067
    bootstrap: str = ""
    kafka: LocalKafka | LocalKafkaCluster | None = None
    brokers: int = 1  # of the local Kafka, when KAFKA_BOOTSTRAP_SERVERS is not set
    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    _env: dict[str, str] = field(default_factory=dict, repr=False)
    # More workers in the same consumer group, on the ports given: "worker-2" on the first, and so on.
    extra_worker_ports: tuple[int, ...] = ()

    @property
    def workers(self) -> dict[str, int]:
        """Each worker's role name -> its HTTP port."""
        return {"worker": self.http_port,
                **{f"worker-{i}": port for i, port in enumerate(self.extra_worker_ports, start=2)}}

    @property
    def log_dir(self) -> Path:
        return self.settings.hugai_data_dir / "logs"

    @property
    def http_url(self) -> str:
        return f"http://{self.settings.hugai_http_host}:{self.http_port}"

    @property
    def reports_url(self) -> str:
        return f"http://{self.settings.hugai_http_host}:{self.reports_port}/reports"

    @property
    def sink_ready_file(self) -> Path:
        return self.settings.hugai_data_dir / "sink.ready"

    @property
    def clickhouse(self) -> str:
        if self.settings.clickhouse_url:
            return "server (CLICKHOUSE_URL)"
        return f"chdb:{self.settings.chdb_path.resolve()}"

    def start(self, *, timeout: float = 120.0) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.settings.kafka_bootstrap_servers:
            self.bootstrap = self.settings.kafka_bootstrap_servers
        else:
            self.kafka = local_kafka(self.settings.hugai_data_dir, self.settings.hugai_cache_dir, brokers=self.brokers,
                                     port=self.kafka_port)
            self.bootstrap = self.kafka.start()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "HUGAI_HTTP_PORT": str(self.http_port),
            "HUGAI_REPORTS_PORT": str(self.reports_port),
            "HUGAI_DATA_DIR": str(self.settings.hugai_data_dir.resolve()),
            "HUGAI_ENV": self.settings.hugai_env,
        }
        if self.settings.hugai_config:
            env["HUGAI_CONFIG"] = str(self.settings.hugai_config.resolve())
        self.sink_ready_file.unlink(missing_ok=True)
        self._env = env
        # Each process creates the topics it needs at start (streams/kafka/topics.py), so none is made here.
        self._spawn("sink", env)
        for role in self.workers:
            self.start_worker(role, wait=False)
        deadline = time.monotonic() + timeout
        for role in ("sink", *self.workers):
            self._wait_ready(role, deadline)

    def _wait_ready(self, role: str, deadline: float) -> None:
        if role == "sink":
            self._wait("sink", self.sink_ready_file.exists, deadline)
        else:
            self._wait(role, lambda port=self.workers[role]: self._worker_ready(port), deadline)

    def start_worker(self, role: str, *, wait: bool = True, timeout: float = 60.0) -> None:
        """Start (or restart) one of the workers; by default, wait until it is ready.

        Call it from a thread that outlives the worker: children get SIGKILL when the thread that
        started them ends (PR_SET_PDEATHSIG follows the thread, not the process)."""
        port = self.workers[role]
        self._spawn(role, {**self._env, "HUGAI_HTTP_PORT": str(port)}, command="worker")
        if wait:
            self._wait(role, lambda: self._worker_ready(port), time.monotonic() + timeout)

    def kill(self, role: str) -> None:
        """SIGKILL one child, as a crash would."""
        child = self.children.pop(role)
        child.kill()
        child.wait()

    def _spawn(self, role: str, env: dict[str, str], *, command: str | None = None) -> None:
        log = open(self.log_dir / f"{role}.log", "ab")
        self.children[role] = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", command or role], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        log.close()

    def _wait(self, role: str, ready, deadline: float) -> None:  # noqa: ANN001
        while time.monotonic() < deadline:
            child = self.children[role]
            if child.poll() is not None:
                raise StackError(f"{role} exited with code {child.returncode}; see {self.log_dir / (role + '.log')}\n"
                                 + self.tail(role))
            if ready():
                return
            time.sleep(0.2)
        raise StackError(f"{role} not ready in time; see {self.log_dir / (role + '.log')}\n" + self.tail(role))

    def _worker_ready(self, port: int) -> bool:
        try:
            url = f"http://{self.settings.hugai_http_host}:{port}/healthz"
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def tail(self, role: str, lines: int = 15) -> str:
        path = self.log_dir / f"{role}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def ready_line(self) -> str:
        return (f"hugai-llm ready  kafka={self.bootstrap}  http={self.http_url}  clickhouse={self.clickhouse}  "
                f"reports={self.reports_url}  logs={self.log_dir}")

    def stop(self, *, timeout: float = 15.0) -> None:
        # The worker first, so nothing new reaches the telemetry topic while the sink drains it.
        for role in (*[r for r in self.children if r.startswith("worker")], "sink"):
            if not terminate(self.children.pop(role, None), timeout=timeout):
                # Seen now and then with Faust: a worker that does not finish its shutdown.
                with open(self.log_dir / f"{role}.log", "a") as log:
                    log.write(f"[devstack] {role} did not stop within {timeout:g}s of SIGTERM and was killed\n")
        if self.kafka is not None:
            self.kafka.stop()
            self.kafka = None

    def __enter__(self) -> DevStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
