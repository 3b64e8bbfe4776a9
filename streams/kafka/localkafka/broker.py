"""A real Apache Kafka node in KRaft mode (broker and controller), run from the official jars on this machine's Java.

`fetch_jars` asks Maven for the jars once and keeps them in the cache directory.
`LocalKafka` formats its data directory on first use, starts the JVM bound to 127.0.0.1,
waits until the broker answers metadata requests, and stops it again. Alone it is a one-node
cluster; `LocalKafkaCluster` (cluster.py) runs several as one cluster.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from streams.kafka.localkafka.processes import die_with_parent, terminate

__all__ = ["KAFKA_VERSION", "KafkaStartError", "LocalKafka", "fetch_jars", "free_port"]

KAFKA_VERSION = "4.1.1"
_HERE = Path(__file__).resolve().parent
_MAIN_CLASS = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"


class KafkaStartError(RuntimeError):
    """The broker could not be fetched, formatted or started. The message says which and why."""


_HANDED_OUT: set[int] = set()

# This broker lives for a test run, a demo or a benchmark, not for days. The JVM's optimising (C2)
# compiler took 40-50% of a core for over a minute after start at 100 requests/s, on a 2-core
# machine whose other core serves the worker. The quick (C1) compiler alone is done in seconds:
# the floor loop at 100/s cost the broker 6.3 ms of CPU per request instead of 10.2, and it started
# in 3.9 s instead of 5.0 (docs/benchmarks.md, "The broker's JIT compiler").
QUICK_JIT = ("-XX:TieredStopAtLevel=1",)


def free_port() -> int:
    """A port free now on 127.0.0.1, never one this process was given before.

    The port is released before the caller binds it, and the kernel may hand the same number
    to the next bind(0): two calls in a row (broker and controller) could otherwise collide.
    """
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def reserve(ports: list[int]) -> None:
    """Ports the caller will bind itself: free_port() never hands them out."""
    _HANDED_OUT.update(ports)


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise KafkaStartError(f"'{tool}' is not on PATH: {hint}")
    return path


def fetch_jars(cache_dir: Path, *, version: str = KAFKA_VERSION, quiet: bool = False) -> Path:
    """The directory of Kafka's jars, fetched from Maven Central on first call."""
    libs = cache_dir / f"kafka-{version}" / "libs"
    if (libs / ".complete").exists():
        return libs
    mvn = _require("mvn", "Maven fetches the Kafka jars (apt-get install maven)")
    staging = libs.with_name(f"libs.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    if not quiet:
        print(f"Fetching Apache Kafka {version} jars from Maven Central into {libs} (once)...", file=sys.stderr, flush=True)
    cmd = [mvn, "-B", "-q", "-f", str(_HERE / "pom.xml"), "dependency:copy-dependencies",
           f"-DoutputDirectory={staging}", "-DincludeScope=runtime", f"-Dkafka.version={version}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise KafkaStartError(f"Maven could not fetch Kafka {version} (exit {done.returncode}):\n{tail}")
    (staging / ".complete").write_text(version)
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    return libs


@dataclass
class LocalKafka:
    """One broker+controller process. Use as a context manager, or call start() and stop().

    Alone (the defaults) it is a cluster of one. In a cluster, `voters` names every node's controller
    (`id@host:port,...`), all share `cluster_id`, and `replicas` is the replication factor of Kafka's
    own topics (consumer offsets, transaction state)."""

    data_dir: Path
    cache_dir: Path
    port: int = 9092
    controller_port: int = field(default_factory=free_port)
    heap: str = "512m"
    jvm_options: tuple[str, ...] = QUICK_JIT
    node_id: int = 1
    voters: str = ""
    cluster_id: str = ""
    replicas: int = 1
    # On in a cluster of one, as Kafka's default; a production cluster usually has it off, and so do
    # LocalKafkaCluster's nodes: the project creates every topic it uses (streams/kafka/topics.py).
    auto_create_topics: bool = True
    # More broker properties, after ours (a later line wins): e.g. broker.session.timeout.ms, which
    # bounds how long a dead broker keeps its partitions' leadership (docs/benchmarks.md).
    properties: tuple[tuple[str, str], ...] = ()
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs (for measuring its CPU)."""
        return self._process.pid if self._process is not None else None

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    def start(self, *, timeout: float = 90.0) -> str:
        self.launch()
        self.wait_ready(timeout)
        return self.bootstrap

    def launch(self) -> None:
        """Format the data directory on first use and start the JVM, without waiting for it to serve.
        A node of a cluster serves only once a majority of its controllers run: start them all first."""
        java = _require("java", "the broker needs Java 17 or newer (apt-get install openjdk-17-jre-headless)")
        libs = fetch_jars(self.cache_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if port_open(self.port):
            raise KafkaStartError(f"port {self.port} on 127.0.0.1 is already in use; pick another with --kafka-port")
        properties = self._write_properties()
        classpath = f"{libs}/*"
        if not (self.data_dir / "logs" / "meta.properties").exists():
            fmt = subprocess.run(
                [java, "-cp", classpath, *self.jvm_options, *self._jvm_flags(), _STORAGE_TOOL, "format",
                 f"--cluster-id={self.cluster_id or new_cluster_id()}", f"--config={properties}"],
                capture_output=True, text=True,
            )
            if fmt.returncode != 0:
                raise KafkaStartError(f"formatting {self.data_dir} failed:\n{fmt.stdout}{fmt.stderr}")
        stdout = open(self.data_dir / "broker.stdout", "ab")
        self._process = subprocess.Popen(
            [java, f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
             *self.jvm_options, *self._jvm_flags(), "-cp", classpath, _MAIN_CLASS, str(properties)],
            stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent,
        )
        stdout.close()

    def _jvm_flags(self) -> list[str]:
        return [f"-Dlog4j2.configurationFile={_HERE / 'log4j2.properties'}", f"-Dkafka.logs.dir={self.data_dir}"]

    def _write_properties(self) -> Path:
        path = self.data_dir / "server.properties"
        voters = self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}"
        min_isr = min(2, self.replicas)
        path.write_text(
            "\n".join([
                "process.roles=broker,controller",
                f"node.id={self.node_id}",
                f"controller.quorum.voters={voters}",
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={self.data_dir / 'logs'}",
                "num.partitions=1",
                f"offsets.topic.replication.factor={self.replicas}",
                "offsets.topic.num.partitions=8",
                f"transaction.state.log.replication.factor={self.replicas}",
                f"transaction.state.log.min.isr={min_isr}",
                "transaction.state.log.num.partitions=8",
                # A dead worker's open transaction holds back read_committed readers until it is
                # aborted; look for expired ones every second, not every 10 s (streams/kafka/outbox.py).
                "transaction.abort.timed.out.transaction.cleanup.interval.ms=1000",
                f"share.coordinator.state.topic.replication.factor={self.replicas}",
                f"share.coordinator.state.topic.min.isr={min_isr}",
                "group.initial.rebalance.delay.ms=0",
                f"auto.create.topics.enable={str(self.auto_create_topics).lower()}",
                *(f"{key}={value}" for key, value in self.properties),
                "",
            ])
        )
        return path

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise KafkaStartError(f"broker exited with code {self._process.returncode}; see {self.log_file}\n{self._tail()}")
            if port_open(self.port) and _metadata_ready(self.bootstrap):
                return
            time.sleep(0.2)
        self.stop()
        raise KafkaStartError(f"broker not ready after {timeout:.0f}s; see {self.log_file}\n{self._tail()}")

    def _tail(self) -> str:
        for path in (self.log_file, self.data_dir / "broker.stdout"):
            if path.exists():
                return "\n".join(path.read_text(errors="replace").splitlines()[-10:])
        return ""

    def stop(self, *, timeout: float = 20.0) -> None:
        process, self._process = self._process, None
        terminate(process, timeout=timeout)

    def kill(self) -> None:
        """kill -9, for fault tests."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64. Like Kafka's own, never starting with '-',
    which a command line would read as an option (1 id in 64 otherwise)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _metadata_ready(bootstrap: str) -> bool:
    """True once the broker has registered with its controller and serves metadata."""
    from streams.kafka.admin import cluster_ready

    return cluster_ready(bootstrap)
