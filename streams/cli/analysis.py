"""Analysts' and ops' commands: report, feedback, erase, and the dashboards. The only streams module that reads ClickHouse."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from streams.cli.output import config_or_fail, console, err, fail, read_settings
from streams.config.settings import Settings

__all__ = ["dashboards_app", "erase", "feedback", "report", "replay"]

dashboards_app = typer.Typer(help="Grafana dashboards and alerts as code.", no_args_is_help=True)


def _from_clickhouse(settings: Settings, via_store, via_endpoint):  # noqa: ANN001, ANN202
    """Run an analytics operation where the data is.

    A server (CLICKHOUSE_URL) is queried directly. Embedded chdb belongs to the sink while the
    stack runs, so the sink's endpoint is asked; with no sink answering, chdb is opened here.
    """
    from analytics import ChdbStore, ServerStore, apply_migrations
    from analytics.report import ReportUnavailable

    if settings.clickhouse_url:
        return via_store(ServerStore(settings.clickhouse_url))
    try:
        return via_endpoint(f"http://{settings.hugai_http_host}:{settings.hugai_reports_port}/reports")
    except ReportUnavailable:
        store = ChdbStore(settings.chdb_path)
        try:
            # A store nothing has written to yet has no tables: its reports are then empty, not an SQL error.
            apply_migrations(store)
            return via_store(store)
        finally:
            store.close()


def _window(since: str, output: str) -> tuple[datetime, datetime]:
    """The (start, end) of `--since` back from now, once `--format` is known good; a clear error otherwise."""
    from streams.config.units import parse_duration

    if output not in ("table", "json", "csv"):
        raise fail(f"--format must be table, json or csv, not {output!r}")
    end = datetime.now(timezone.utc)
    try:
        return end - parse_duration(since), end
    except ValueError as exc:
        raise fail(f"--since: {exc}") from None


def report(
    metrics: Annotated[Optional[list[str]], typer.Argument(help="Metric names; default all twelve.")] = None,
    since: Annotated[str, typer.Option(help="How far back, e.g. 1h, 24h, 7_days.")] = "24h",
    by: Annotated[str, typer.Option(help="Group by model, provider, task_type or agent_context; metrics over "
                                         "requests also by finish_reason, response_format, tools or images.")] = "model",
    output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    plot: Annotated[Optional[Path], typer.Option(help="Also draw cost per day and p95 latency trends to this PNG.")] = None,
) -> None:
    """The seed's metrics from ClickHouse, for analysts."""
    from analytics import StoreError
    from analytics.queries import METRICS, TRENDS, UnknownMetric, run_metric, run_trend
    from analytics.report import rows_from_endpoint, to_csv, to_json, trend_from_endpoint
    from streams.config.settings import read_secret_env
    from streams.ingress.auth import key_for_role

    start, end = _window(since, output)
    settings = read_settings()
    config = config_or_fail(settings)
    names = metrics or list(METRICS)
    budgets = dict(config.cost_controls.daily_budgets)
    key = key_for_role(config.api_keys, "analyst", read_secret_env)
    try:
        reports = _from_clickhouse(
            settings,
            lambda store: {n: run_metric(store, n, start=start, end=end, by=by, daily_budgets=budgets) for n in names},
            lambda url: {n: rows_from_endpoint(url, n, start=start, end=end, by=by, key=key) for n in names},
        )
        if plot is not None:
            trends = _from_clickhouse(
                settings,
                lambda store: {t: run_trend(store, t, start=start, end=end) for t in TRENDS},
                lambda url: {t: trend_from_endpoint(url, t, start=start, end=end, key=key) for t in TRENDS},
            )
    except (UnknownMetric, ValueError) as exc:
        raise fail(str(exc.args[0] if isinstance(exc, UnknownMetric) else exc)) from None
    except StoreError as exc:
        raise fail(f"ClickHouse: {exc}", code=1) from None
    for name in (n for n, rows in reports.items() if not rows and METRICS[n].needs_detailed):
        err.print(f"{name}: no rows since {since}. It reads provider attempts, which workers record only at "
                  "monitoring_level detailed or comprehensive (HUGAI_MONITORING_LEVEL, else the environment "
                  "profile's; development's is basic).", highlight=False)
    if plot is not None:
        from analytics.plot import plot_trends  # matplotlib: 1.5 s to import, so only for --plot

        plot_trends(trends, plot, title=f"hugai-llm trends, last {since}")
        err.print(f"trends drawn to {plot}", highlight=False)
    if output == "json":
        print(to_json(reports))
    elif output == "csv":
        print(to_csv(reports), end="")
    else:
        from rich.table import Table

        for name, rows in reports.items():
            table = Table(title=f"{name} by {by}, last {since}")
            columns = list(dict.fromkeys(k for row in rows for k in row)) or ["group"]
            for column in columns:
                table.add_column(column)
            for row in rows:
                table.add_row(*(f"{v:.6g}" if isinstance(v, float) else str(v) for v in (row.get(c, "") for c in columns)))
            console.print(table)


def replay(
    config_path: Annotated[Path, typer.Option("--config", help="The candidate config to replay the traffic under.")],
    since: Annotated[str, typer.Option(help="How far back, e.g. 1h, 24h, 7_days.")] = "24h",
    by: Annotated[str, typer.Option(help="Group by task_type, agent_context or model (the model that answered).")]
    = "task_type",
    output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    plot: Annotated[Optional[Path], typer.Option(help="Also draw cost (recorded against candidate), refusals and moved requests to this PNG.")] = None,
) -> None:
    """What a candidate config would have done with the recorded traffic: models, cost, latency,
    quality and refusals beside what happened. No provider is called."""
    from rich.progress import Progress

    from analytics import StoreError
    from analytics.report import replay_via_endpoint, to_csv, to_json
    from streams.cli.replay import GROUPINGS, replay_report
    from streams.cli.replay_output import flat, plot_replay, replay_table
    from streams.config import ConfigError, load_config
    from streams.config.settings import read_secret_env
    from streams.ingress.auth import key_for_role

    start, end = _window(since, output)
    if by not in GROUPINGS:
        raise fail(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    try:
        candidate = load_config(config_path)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    settings = read_settings()
    live = config_or_fail(settings)
    key = key_for_role(live.api_keys, "analyst", read_secret_env)
    body = {"config": config_path.read_text(encoding="utf-8"), "start": start.isoformat(), "end": end.isoformat(),
            "by": by}

    def locally(store):  # noqa: ANN001, ANN202
        with Progress(transient=True, console=err, disable=output != "table") as bar:
            task = bar.add_task("replaying", total=None)
            return replay_report(store, candidate, start=start, end=end, by=by,
                                 progress=lambda done, total: bar.update(task, completed=done, total=total))

    try:
        with err.status("replaying on the sink...", spinner="dots") if output == "table" else _quiet():
            rows = _from_clickhouse(settings, locally, lambda url: replay_via_endpoint(url, body, key=key))
    except ValueError as exc:
        raise fail(str(exc)) from None
    except StoreError as exc:
        raise fail(f"ClickHouse: {exc}", code=1) from None
    if plot is not None:
        plot_replay(rows, plot, by=by, title=f"{config_path.name} against the recorded traffic, last {since}")
        err.print(f"replay drawn to {plot}", highlight=False)
    if output == "json":
        print(to_json({"replay": rows}))
    elif output == "csv":
        print(to_csv({"replay": flat(rows)}), end="")
    else:
        console.print(replay_table(rows, by=by, title=f"{config_path} against the recorded traffic, last {since}"))


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def feedback(
    request_id: Annotated[str, typer.Argument(help="The request the feedback is about.")],
    rating: Annotated[Optional[int], typer.Option(min=1, max=5, help="human_satisfaction_rating, 1-5.")] = None,
    relevance: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="output_relevance_score, 0-1.")] = None,
    success: Annotated[Optional[bool], typer.Option("--success/--failure", help="Did the response do the task?")] = None,
) -> None:
    """Publish feedback on a response to llm.feedback; the sink files it in ClickHouse."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError
    from pydantic import ValidationError

    from streams.events import FeedbackGiven
    from streams.kafka.topics import FEEDBACK

    try:
        event = FeedbackGiven(request_id=request_id, human_satisfaction_rating=rating, output_relevance_score=relevance,
                              task_success=success)
    except ValidationError as exc:
        raise fail("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    bootstrap = read_settings().kafka_bootstrap_servers or "127.0.0.1:9092"

    async def publish() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10000, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(FEEDBACK, event.to_bytes(), key=request_id.encode())
        finally:
            await producer.stop()

    try:
        asyncio.run(publish())
    except (KafkaError, OSError) as exc:
        raise fail(f"cannot publish to Kafka at {bootstrap}: {type(exc).__name__}", code=1) from None
    console.print(f"feedback on {request_id} published to {FEEDBACK}", highlight=False)


def erase(
    tenant: Annotated[Optional[str], typer.Option(help="Erase this tenant's (or team's) per-request rows.")] = None,
    user: Annotated[Optional[str], typer.Option(help="Erase this user's per-request rows.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """GDPR erasure: delete one subject's per-request rows from ClickHouse and report how many went."""
    from analytics import StoreError
    from analytics.erase import erase_subject
    from analytics.report import erase_via_endpoint
    from streams.config.settings import read_secret_env
    from streams.ingress.auth import key_for_role

    if (tenant is None) == (user is None):
        raise fail("name exactly one subject: --tenant T or --user U")
    subject = f"tenant {tenant!r}" if tenant is not None else f"user {user!r}"
    if not yes:
        if not sys.stdin.isatty():
            raise fail("erasure cannot be undone: pass --yes to run it without a prompt")
        typer.confirm(f"Delete every per-request row of {subject}? This cannot be undone.", abort=True)
    settings = read_settings()
    key = key_for_role(config_or_fail(settings).api_keys, "operator", read_secret_env)
    try:
        deleted = _from_clickhouse(
            settings,
            lambda store: erase_subject(store, tenant=tenant, user=user),
            lambda url: erase_via_endpoint(url, tenant=tenant, user=user, key=key),
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    except StoreError as exc:
        raise fail(f"ClickHouse: {exc}", code=1) from None
    total = sum(deleted.values())
    console.print(f"erased {total} row(s) of {subject}: " + ", ".join(f"{t} {n}" for t, n in deleted.items()),
                  highlight=False)


@dashboards_app.command("build")
def dashboards_build(
    out: Annotated[Optional[Path], typer.Option(help="Where to write; default dashboards/provisioning.")] = None,
) -> None:
    """Write Grafana provisioning: datasource, both dashboards, alert rules, contact point, policy."""
    from dashboards import build
    from dashboards.provisioning import DEFAULT_OUT

    settings = read_settings()
    config = config_or_fail(settings)
    written = build(dict(config.cost_controls.daily_budgets), out or DEFAULT_OUT,
                    latency_target_ms=settings.hugai_latency_target_ms, quality_drop=config.quality_feedback.alert_drop)
    console.print(f"wrote {len(written)} files under {out or DEFAULT_OUT}", highlight=False)


@dashboards_app.command("publish")
def dashboards_publish() -> None:
    """Push them to GRAFANA_URL with grafana-client; publishing again updates, never duplicates."""
    from grafana_client.client import GrafanaClientError

    from dashboards.publish import publish

    settings = read_settings()
    if not settings.grafana_url:
        raise fail("GRAFANA_URL is not set (e.g. http://admin:admin@127.0.0.1:3000); GRAFANA_TOKEN is optional")
    config = config_or_fail(settings)
    try:
        counts = publish(settings.grafana_url,
                         token=settings.grafana_token.get_secret_value() if settings.grafana_token else None,
                         daily_budgets=dict(config.cost_controls.daily_budgets), clickhouse_host=settings.clickhouse_host,
                         clickhouse_password=settings.clickhouse_password.get_secret_value(),
                         webhook_url=settings.hugai_alert_webhook_url, latency_target_ms=settings.hugai_latency_target_ms,
                         quality_drop=config.quality_feedback.alert_drop)
    except (GrafanaClientError, OSError) as exc:
        raise fail(f"Grafana refused or is unreachable: {exc}", code=1) from None
    console.print("published: " + ", ".join(f"{n} {k}" for k, n in counts.items()), highlight=False)
