"""Fixtures only. Each outbound dependency has its own: the broker, the provider server, the stack."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from streams.cli.devstack import DevStack
from streams.config import DEFAULT_CONFIG_PATH, load_config
from streams.config.settings import Settings
from streams.kafka.localkafka import LocalKafka, LocalKafkaCluster, free_port
from tests.support.provider_server import ProviderServer

SENTINEL_KEY = "sk-test-SENTINEL-never-log-me-4f1d"


def wire_id(model: str) -> str:
    """The id the shipped catalog sends on the wire for a router model name (config/models.yaml api_model)."""
    return load_config().models[model].api_model
CALLER_KEY = "hk-caller-SENTINEL-9c2e"
ANALYST_KEY = "hk-analyst-SENTINEL-51ab"
OPERATOR_KEY = "hk-operator-SENTINEL-77d0"  # every test stack has it: GET /cluster asks for it


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Apache Kafka broker: KAFKA_BOOTSTRAP_SERVERS if set, else one started from the Maven jars."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    broker = LocalKafka(
        data_dir=tmp_path_factory.mktemp("kafka"),
        cache_dir=Settings().hugai_cache_dir,
        port=free_port(),
    )
    started = time.monotonic()
    broker.start()
    print(f"\n[kafka] broker {broker.bootstrap} ready in {time.monotonic() - started:.1f}s")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def provider_server() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


def make_stack(data_dir: Path, bootstrap: str, *, workers: int = 1, **env: str) -> tuple[DevStack, pytest.MonkeyPatch]:
    """`workers` workers and a sink against `bootstrap`, with `env` set for them. Caller stops them."""
    patch = pytest.MonkeyPatch()
    patch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    patch.setenv("HUGAI_DATA_DIR", str(data_dir))
    # The tests check what reaches ClickHouse, not how soon: shorter batches than the default (2 s)
    # keep the suite's waits for rows short.
    patch.setenv("HUGAI_SINK_FLUSH_S", "0.5")
    patch.setenv("HUGAI_OPERATOR_KEY", OPERATOR_KEY)
    # Development's profile says basic monitoring; the tests read attempts, decisions and their scores.
    patch.setenv("HUGAI_MONITORING_LEVEL", "comprehensive")
    for name, value in env.items():
        patch.setenv(name, value)
    return DevStack(Settings(), http_port=free_port(), reports_port=free_port(),
                    extra_worker_ports=tuple(free_port() for _ in range(workers - 1))), patch


@contextmanager
def running_stack(data_dir: Path, bootstrap: str, *, workers: int = 1, **env: str) -> Iterator[DevStack]:
    """make_stack, started, and stopped (with its environment undone) however the block ends."""
    dev, patch = make_stack(data_dir, bootstrap, workers=workers, **env)
    try:
        dev.start()
        yield dev
    finally:
        dev.stop()
        patch.undo()


def every_family_at(server: ProviderServer) -> dict[str, str]:
    """The environment that sends every provider family, keyed, to one local wire server."""
    keys = {f"{family.upper()}_API_KEY": SENTINEL_KEY for family in ("openai", "anthropic", "google", "cohere", "local")}
    return keys | {"OPENAI_BASE_URL": server.root + "/v1", "ANTHROPIC_BASE_URL": server.root,
                   "GOOGLE_BASE_URL": server.root + "/v1beta", "COHERE_BASE_URL": server.root,
                   "LOCAL_BASE_URL": server.root + "/v1"}


def config_file(directory: Path, change: Callable[[dict], None]) -> Path:
    """The shipped config, changed by `change` (it edits the parsed YAML in place), written to `directory`."""
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    change(raw)
    path = Path(directory) / "models.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@contextmanager
def own_broker(directory: Path) -> Iterator[LocalKafka]:
    """A broker for one module alone, for tests that restart it or must not share its state."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("needs a broker of its own; KAFKA_BOOTSTRAP_SERVERS points at a shared one")
    broker = LocalKafka(data_dir=directory, cache_dir=Settings().hugai_cache_dir, port=free_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@contextmanager
def own_cluster(directory: Path, brokers: int = 3) -> Iterator[LocalKafkaCluster]:
    """A KRaft cluster of `brokers` nodes for one module, broker auto-create off (as in production)."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("needs a cluster of its own; KAFKA_BOOTSTRAP_SERVERS points at a shared broker")
    cluster = LocalKafkaCluster(data_dir=directory, cache_dir=Settings().hugai_cache_dir, brokers=brokers)
    started = time.monotonic()
    cluster.start()
    print(f"\n[kafka] {brokers}-broker cluster {cluster.bootstrap} ready in {time.monotonic() - started:.1f}s")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, provider_server: ProviderServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """Worker + sink, with OpenAI models served over HTTP by the local provider server."""
    with running_stack(tmp_path_factory.mktemp("stack"), kafka_bootstrap,
                       OPENAI_API_KEY=SENTINEL_KEY, OPENAI_BASE_URL=provider_server.base_url,
                       HUGAI_CALLER_KEY=CALLER_KEY, HUGAI_ANALYST_KEY=ANALYST_KEY) as dev:
        yield dev
