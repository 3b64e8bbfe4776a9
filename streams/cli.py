"""The hugai-llm command. The composition root for processes: it may import every folder."""

from __future__ import annotations

import asyncio
import faulthandler
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from streams.config import ConfigError, load_config
from streams.settings import Settings

app = typer.Typer(help="hugai-llm: an event-sourced LLM router on Kafka, Faust and ClickHouse.", no_args_is_help=True)
kafka_app = typer.Typer(help="The local Apache Kafka broker.", no_args_is_help=True)
config_app = typer.Typer(help="The configuration file.", no_args_is_help=True)
dashboards_app = typer.Typer(help="Grafana dashboards and alerts as code.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
app.add_typer(config_app, name="config")
app.add_typer(dashboards_app, name="dashboards")


def _add_operator_commands() -> None:
    from streams.cli_control import approvals_app, control_app

    app.add_typer(control_app, name="control")
    app.add_typer(approvals_app, name="approvals")

# Tables stay readable when output goes to a file or CI log (rich assumes 80 columns there).
console = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)


def _settings() -> Settings:
    return Settings()


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _load_config(settings: Settings):
    try:
        return load_config(settings.hugai_config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _sigterm_as_interrupt() -> None:
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@app.command()
def dev(
    kafka_port: Annotated[int, typer.Option(help="Port for the local Kafka broker.")] = 9092,
    http_port: Annotated[int, typer.Option(help="Port for the worker's web server.")] = 6066,
    reports_port: Annotated[int, typer.Option(help="Port for the sink's report endpoint.")] = 6067,
    demo: Annotated[bool, typer.Option(help="Publish a demo batch and print a summary.")] = False,
    once: Annotated[bool, typer.Option(help="Exit after the demo instead of serving.")] = False,
) -> None:
    """Start the local stack: Kafka (unless KAFKA_BOOTSTRAP_SERVERS is set), the worker and the sink."""
    from streams.demo import run_demo
    from streams.devstack import DevStack, StackError
    from streams.localkafka import KafkaStartError

    settings = _settings()
    config = _load_config(settings)
    _sigterm_as_interrupt()
    stack = DevStack(settings, kafka_port=kafka_port, http_port=http_port, reports_port=reports_port)
    started = time.monotonic()
    try:
        with console.status("Starting Kafka, the worker and the sink..."):
            stack.start()
        console.print(stack.ready_line(), highlight=False, soft_wrap=True)
        console.print(f"(stack ready in {time.monotonic() - started:.1f}s)", style="dim")
        if demo:
            responses = asyncio.run(run_demo(stack.bootstrap, config, console=console))
            failed = [r for r in responses.values() if r.status != "ok"]
            if failed:
                err.print(f"{len(failed)} demo request(s) did not succeed: "
                          + ", ".join(f"{r.request_id}={r.error.code if r.error else r.status}" for r in failed[:5]))
        if not once:
            console.print("Serving. Ctrl-C stops everything.", style="dim")
            while True:
                time.sleep(1)
                for role, child in stack.children.items():
                    if child.poll() is not None:
                        raise StackError(f"{role} exited with code {child.returncode}\n{stack.tail(role)}")
    except KeyboardInterrupt:
        console.print("Stopping...", style="dim")
    except (StackError, KafkaStartError) as exc:
        raise _fail(str(exc), code=1) from None
    finally:
        stack.stop()


@app.command()
def send(
    prompt: Annotated[str, typer.Argument(help="The prompt.")],
    task_type: Annotated[str, typer.Option(help="A task type from routing_strategy.")] = "complex_reasoning",
    model: Annotated[Optional[str], typer.Option(help="Prefer this model.")] = None,
    agent: Annotated[Optional[str], typer.Option(help="agent_context, for agent_model_mapping.")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(min=1)] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 120.0,
) -> None:
    """Send one request through Kafka and print the answer (for humans; services use ModelManager or Kafka)."""
    from streams.client import LLMError, ModelManager

    with ModelManager() as manager:
        try:
            response = manager.generate(prompt, task_type=task_type, preferred_model=model, agent_context=agent,
                                        max_tokens=max_tokens, timeout=timeout)
        except LLMError as exc:
            raise _fail(str(exc), code=1) from None
        except (OSError, RuntimeError) as exc:
            raise _fail(f"cannot reach Kafka at {manager.bootstrap}: {exc}", code=1) from None
    print(response.content)
    err.print(f"{response.model} via {response.provider}{' (simulated)' if response.simulated else ''}, "
              f"{response.usage.input_tokens}+{response.usage.output_tokens} tokens, ${response.cost_usd:.6f}, "
              f"{response.latency_ms.total:.0f} ms", style="dim", highlight=False)


@app.command()
def worker() -> None:
    """Run one router worker (Faust). Needs KAFKA_BOOTSTRAP_SERVERS."""
    from streams.worker import run_worker

    settings = _settings()
    if not settings.kafka_bootstrap_servers:
        raise _fail("KAFKA_BOOTSTRAP_SERVERS is not set; start a broker with `hugai-llm dev`, or point at one")
    _load_config(settings)  # fail fast, with the config's own message
    run_worker(settings, settings.kafka_bootstrap_servers)


@app.command()
def sink() -> None:
    """Run the ClickHouse sink (its own consumer group). Needs KAFKA_BOOTSTRAP_SERVERS."""
    from analytics import SinkConfig, StoreError, open_store
    from analytics.service import serve_sink
    from streams.auth import ApiKeys
    from streams.settings import read_secret_env
    from streams.topics import APPROVALS, CONTROL, FEEDBACK, TELEMETRY

    settings = _settings()
    if not settings.kafka_bootstrap_servers:
        raise _fail("KAFKA_BOOTSTRAP_SERVERS is not set")
    config = _load_config(settings)
    logging.basicConfig(level=settings.hugai_log_level.upper().replace("WARN", "WARNING"),
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    try:
        store = open_store(settings.clickhouse_url, settings.chdb_path)
    except StoreError as exc:
        raise _fail(str(exc), code=1) from None
    serve_sink(store, SinkConfig(bootstrap=settings.kafka_bootstrap_servers, topics=(TELEMETRY, FEEDBACK, CONTROL, APPROVALS)),
               ready_file=settings.hugai_data_dir / "sink.ready", report_host=settings.hugai_http_host,
               report_port=settings.hugai_reports_port, daily_budgets=dict(config.cost_controls.daily_budgets),
               retention=config.security_configuration.data_protection.data_retention,
               authorize=ApiKeys.from_specs(config.api_keys, read_secret_env).authorizer(open_when_empty=True))


def _from_clickhouse(settings: Settings, via_store, via_endpoint):  # noqa: ANN001, ANN202
    """Run an analytics operation where the data is.

    A server (CLICKHOUSE_URL) is queried directly. Embedded chdb belongs to the sink while the
    stack runs, so the sink's endpoint is asked; with no sink answering, chdb is opened here.
    """
    from analytics import ChdbStore, ServerStore
    from analytics.report import ReportUnavailable

    if settings.clickhouse_url:
        return via_store(ServerStore(settings.clickhouse_url))
    try:
        return via_endpoint(f"http://{settings.hugai_http_host}:{settings.hugai_reports_port}/reports")
    except ReportUnavailable:
        store = ChdbStore(settings.chdb_path)
        try:
            return via_store(store)
        finally:
            store.close()


@app.command()
def report(
    metrics: Annotated[Optional[list[str]], typer.Argument(help="Metric names; default all twelve.")] = None,
    since: Annotated[str, typer.Option(help="How far back, e.g. 1h, 24h, 7_days.")] = "24h",
    by: Annotated[str, typer.Option(help="Group by model, provider, task_type or agent_context.")] = "model",
    output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    plot: Annotated[Optional[Path], typer.Option(help="Also draw cost per day and p95 latency trends to this PNG.")] = None,
) -> None:
    """The seed's metrics from ClickHouse, for analysts."""
    from datetime import datetime, timezone

    from analytics import StoreError
    from analytics.plot import plot_trends
    from analytics.queries import METRICS, TRENDS, UnknownMetric, run_metric, run_trend
    from analytics.report import rows_from_endpoint, to_csv, to_json, trend_from_endpoint
    from streams.auth import key_for_role
    from streams.settings import read_secret_env
    from streams.units import parse_duration

    if output not in ("table", "json", "csv"):
        raise _fail(f"--format must be table, json or csv, not {output!r}")
    settings = _settings()
    config = _load_config(settings)
    try:
        end = datetime.now(timezone.utc)
        start = end - parse_duration(since)
    except ValueError as exc:
        raise _fail(f"--since: {exc}") from None
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
        raise _fail(str(exc.args[0] if isinstance(exc, UnknownMetric) else exc)) from None
    except StoreError as exc:
        raise _fail(f"ClickHouse: {exc}", code=1) from None
    if plot is not None:
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


@app.command()
def feedback(
    request_id: Annotated[str, typer.Argument(help="The request the feedback is about.")],
    rating: Annotated[Optional[int], typer.Option(min=1, max=5, help="human_satisfaction_rating, 1-5.")] = None,
    relevance: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="output_relevance_score, 0-1.")] = None,
    success: Annotated[Optional[bool], typer.Option("--success/--failure", help="Did the response do the task?")] = None,
) -> None:
    """Publish feedback on a response to llm.feedback; the sink files it in ClickHouse."""
    from pydantic import ValidationError

    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    from streams.events import FeedbackGiven
    from streams.topics import FEEDBACK

    try:
        event = FeedbackGiven(request_id=request_id, human_satisfaction_rating=rating, output_relevance_score=relevance,
                              task_success=success)
    except ValidationError as exc:
        raise _fail("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    bootstrap = _settings().kafka_bootstrap_servers or "127.0.0.1:9092"

    async def publish() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        await producer.start()
        try:
            await producer.send_and_wait(FEEDBACK, event.to_bytes(), key=request_id.encode())
        finally:
            await producer.stop()

    try:
        asyncio.run(publish())
    except (KafkaError, OSError) as exc:
        raise _fail(f"cannot publish to Kafka at {bootstrap}: {type(exc).__name__}", code=1) from None
    console.print(f"feedback on {request_id} published to {FEEDBACK}", highlight=False)


@app.command()
def erase(
    tenant: Annotated[Optional[str], typer.Option(help="Erase this tenant's (or team's) per-request rows.")] = None,
    user: Annotated[Optional[str], typer.Option(help="Erase this user's per-request rows.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """GDPR erasure: delete one subject's per-request rows from ClickHouse and report how many went."""
    from analytics import StoreError
    from analytics.erase import erase_subject
    from analytics.report import erase_via_endpoint
    from streams.auth import key_for_role
    from streams.settings import read_secret_env

    if (tenant is None) == (user is None):
        raise _fail("name exactly one subject: --tenant T or --user U")
    subject = f"tenant {tenant!r}" if tenant is not None else f"user {user!r}"
    if not yes:
        if not sys.stdin.isatty():
            raise _fail("erasure cannot be undone: pass --yes to run it without a prompt")
        typer.confirm(f"Delete every per-request row of {subject}? This cannot be undone.", abort=True)
    settings = _settings()
    key = key_for_role(_load_config(settings).api_keys, "operator", read_secret_env)
    try:
        deleted = _from_clickhouse(
            settings,
            lambda store: erase_subject(store, tenant=tenant, user=user),
            lambda url: erase_via_endpoint(url, tenant=tenant, user=user, key=key),
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    except StoreError as exc:
        raise _fail(f"ClickHouse: {exc}", code=1) from None
    total = sum(deleted.values())
    console.print(f"erased {total} row(s) of {subject}: " + ", ".join(f"{t} {n}" for t, n in deleted.items()),
                  highlight=False)


@app.command()
def bench(
    rate: Annotated[Optional[float], typer.Option(min=0.1, help="Requests per second.")] = None,
    saturate: Annotated[bool, typer.Option(help="As fast as the stack answers (2,000 in flight at most).")] = False,
    duration: Annotated[float, typer.Option(min=1.0, help="Seconds of load.")] = 20.0,
    provider_latency_ms: Annotated[float, typer.Option(min=0.0, help="The bench provider's latency.")] = 0.0,
    provider_url: Annotated[Optional[str], typer.Option(help="Use this running OpenAI-compatible server instead.")] = None,
    warmup: Annotated[float, typer.Option(min=0.0, help="Seconds of the same load first, not counted.")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Drive a fresh stack through Kafka at a fixed rate or at saturation, and report what it adds."""
    from streams.bench import run_bench

    if (rate is None) == (not saturate):
        raise _fail("give exactly one of --rate R or --saturate")
    result = run_bench(rate=rate, duration_s=duration, provider_latency_ms=provider_latency_ms,
                       provider_url=provider_url, warmup_s=warmup, progress=lambda line: err.print(line, style="dim"))
    if as_json:
        print(json.dumps({"throughput_rps": result.throughput_rps, "added_latency_ms": result.added_latency_ms,
                          "rss_mb": result.rss_mb, "sink_lag_s": result.sink_lag_s, "mode": result.mode,
                          "sent": result.sent, "answered": result.answered, "errors": result.errors,
                          "duration_s": result.duration_s, "notes": result.notes}))
        return
    latency = result.added_latency_ms
    console.print(f"{result.mode}, {result.duration_s:g} s: {result.answered}/{result.sent} answered "
                  f"({result.errors} errors), {result.throughput_rps:g} requests/s", highlight=False)
    console.print(f"added latency p50 {latency['p50']:g} ms, p95 {latency['p95']:g} ms, p99 {latency['p99']:g} ms; "
                  f"worker RSS {result.rss_mb:g} MB; sink caught up {result.sink_lag_s:g} s after the last answer",
                  highlight=False)
    for note in result.notes:
        console.print(f"note: {note}", style="yellow")


@kafka_app.command("fetch")
def kafka_fetch() -> None:
    """Fetch the Apache Kafka jars from Maven Central into the cache (once)."""
    from streams.localkafka import KAFKA_VERSION, KafkaStartError, fetch_jars

    settings = _settings()
    try:
        libs = fetch_jars(settings.hugai_cache_dir)
    except KafkaStartError as exc:
        raise _fail(str(exc), code=1) from None
    console.print(f"Apache Kafka {KAFKA_VERSION}: {len(list(libs.glob('*.jar')))} jars in {libs}", highlight=False)


@dashboards_app.command("build")
def dashboards_build(
    out: Annotated[Optional[Path], typer.Option(help="Where to write; default dashboards/provisioning.")] = None,
) -> None:
    """Write Grafana provisioning: datasource, both dashboards, alert rules, contact point, policy."""
    from dashboards import build
    from dashboards.provisioning import DEFAULT_OUT

    settings = _settings()
    config = _load_config(settings)
    written = build(dict(config.cost_controls.daily_budgets), out or DEFAULT_OUT,
                    latency_target_ms=settings.hugai_latency_target_ms)
    console.print(f"wrote {len(written)} files under {out or DEFAULT_OUT}", highlight=False)


@dashboards_app.command("publish")
def dashboards_publish() -> None:
    """Push them to GRAFANA_URL with grafana-client; publishing again updates, never duplicates."""
    from grafana_client.client import GrafanaClientError

    from dashboards.publish import publish

    settings = _settings()
    if not settings.grafana_url:
        raise _fail("GRAFANA_URL is not set (e.g. http://admin:admin@127.0.0.1:3000); GRAFANA_TOKEN is optional")
    config = _load_config(settings)
    try:
        counts = publish(settings.grafana_url,
                         token=settings.grafana_token.get_secret_value() if settings.grafana_token else None,
                         daily_budgets=dict(config.cost_controls.daily_budgets), clickhouse_host=settings.clickhouse_host,
                         clickhouse_password=settings.clickhouse_password.get_secret_value(),
                         webhook_url=settings.hugai_alert_webhook_url, latency_target_ms=settings.hugai_latency_target_ms)
    except (GrafanaClientError, OSError) as exc:
        raise _fail(f"Grafana refused or is unreachable: {exc}", code=1) from None
    console.print("published: " + ", ".join(f"{n} {k}" for k, n in counts.items()), highlight=False)


@config_app.command("check")
def config_check(path: Annotated[Optional[Path], typer.Argument(help="Config file; default HUGAI_CONFIG or config/models.yaml.")] = None) -> None:
    """Validate a config file and summarise it."""
    try:
        config = load_config(path or _settings().hugai_config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    from streams.compliance import active_controls

    console.print(f"ok: {len(config.models)} models, {len(config.routing_strategy)} task types, "
                  f"{len(config.agent_model_mapping)} agent mappings, environments {', '.join(config.environments)}",
                  highlight=False)
    for requirement, controls in active_controls(config).items():
        console.print(f"{requirement}:", highlight=False)
        for control in controls:
            console.print(f"  - {control}", highlight=False, markup=False)


_add_operator_commands()


def main() -> None:
    # `kill -USR1 <pid>` prints every thread's stack to stderr: for diagnosing a process that hangs.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    app()


if __name__ == "__main__":
    main()
