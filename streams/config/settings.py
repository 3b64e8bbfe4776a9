"""The one place environment variables are read. Everything else receives a Settings object."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "ProviderCredentials", "read_secret_env"]


def read_secret_env(name: str) -> str | None:
    """A secret named by config (e.g. an API key's key_env). Kept here: this module reads the environment."""
    return os.environ.get(name) or None


class ProviderCredentials(BaseSettings):
    """API keys and base URLs per provider family. A key may also come from a file (<NAME>_FILE)."""

    model_config = SettingsConfigDict(extra="ignore")

    openai_api_key: SecretStr | None = None
    openai_api_key_file: Path | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_api_key_file: Path | None = None
    anthropic_base_url: str | None = None
    google_api_key: SecretStr | None = None
    google_api_key_file: Path | None = None
    google_base_url: str | None = None
    cohere_api_key: SecretStr | None = None
    cohere_api_key_file: Path | None = None
    cohere_base_url: str | None = None
    local_api_key: SecretStr | None = None
    local_api_key_file: Path | None = None
    local_base_url: str | None = None

    def base_url(self, family: str) -> str | None:
        return getattr(self, f"{family}_base_url", None)


class Settings(BaseSettings):
    """Process settings. Field names are the environment variables, case-insensitive."""

    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str | None = Field(default=None, description="Use this broker; start none.")
    clickhouse_url: str | None = Field(default=None, description="A ClickHouse server; unset means embedded chdb.")
    hugai_config: Path | None = Field(default=None, description="Config file; unset means config/models.yaml.")
    hugai_env: Literal["development", "staging", "production"] = "development"
    hugai_data_dir: Path = Path(".data")
    hugai_cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "hugai-llm")
    hugai_http_host: str = "127.0.0.1"
    hugai_http_port: int = 6066
    hugai_reports_port: int = Field(default=6067, description="The sink's report endpoint.")
    hugai_sink_flush_s: float = Field(default=2.0, ge=0.05, le=60.0, description=(
        "How long the sink gathers rows before writing them to ClickHouse (each write has a fixed cost)."))
    hugai_partitions: int = Field(default=4, ge=1)
    hugai_replication_factor: int | None = Field(default=None, ge=1, description=(
        "Copies of each topic the project creates; unset means min(3, brokers in the cluster)."))
    hugai_monitoring_level: Literal["basic", "detailed", "comprehensive"] | None = Field(default=None, description=(
        "What telemetry each request leaves; unset means the environment profile's monitoring_level."))
    hugai_processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    # Calls to a real LLM take seconds: at 64 in flight and 2 s a call, a worker answered 31 requests/s.
    hugai_agent_concurrency: int = Field(default=1024, ge=1)
    # Faust's default (60 s) makes a restarted worker wait a minute for its dead predecessor.
    hugai_session_timeout_s: float = Field(default=10.0, ge=6.0)
    hugai_log_level: Literal["debug", "info", "warn", "error"] = "info"
    hugai_fetch_batch_ms: int = Field(default=20, ge=0, le=1000, description=(
        "How long the broker may gather records (up to 32 KiB) for the workers' Faust consumer before "
        "answering; 0 answers every fetch at once (Faust's own behaviour). See README, Benchmarks."))
    hugai_aws_secret_id: str | None = Field(default=None, description="AWS Secrets Manager secret with provider keys.")
    aws_endpoint_url: str | None = Field(default=None, description="Another Secrets Manager endpoint (e.g. a local one).")
    hugai_key_refresh_s: float = Field(default=60.0, gt=0, description="How often the AWS secret is re-read.")
    grafana_url: str | None = Field(default=None, description="A Grafana to publish dashboards and alerts to.")
    grafana_token: SecretStr | None = None
    clickhouse_host: str = Field(default="clickhouse", description="The ClickHouse host Grafana's datasource uses.")
    clickhouse_password: SecretStr = SecretStr("")
    hugai_alert_webhook_url: str = Field(default="http://127.0.0.1:9/hugai-alerts", description="Where alerts go.")
    hugai_latency_target_ms: float = Field(default=10_000, gt=0, description="The p95 latency alert's target.")

    @property
    def chdb_path(self) -> Path:
        return self.hugai_data_dir / "chdb"

    @property
    def kafka_data_dir(self) -> Path:
        return self.hugai_data_dir / "kafka"
