"""The hugai-llm command. The composition root for processes: it may import every folder."""

from __future__ import annotations

import asyncio
import faulthandler
import json
import logging
import signal
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from streams.cli.analysis import dashboards_app, erase, feedback, replay, report
from streams.cli.control import approvals_app, control_app
from streams.cli.kafka_commands import kafka_app
from streams.cli.output import config_or_fail, console, err, fail, read_settings, sigterm_as_interrupt
from streams.config import ConfigError, load_config

__all__ = ["app", "main"]

app = typer.Typer(help="hugai-llm: an event-sourced LLM router on Kafka, Faust and ClickHouse.", no_args_is_help=True)
config_app = typer.Typer(help="The configuration file.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
app.add_typer(config_app, name="config")
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(control_app, name="control")
app.add_typer(approvals_app, name="approvals")


@app.command()
def dev(
    kafka_port: Annotated[int, typer.Option(help="Port for the local Kafka broker (the first, with --brokers).")] = 9092,
    brokers: Annotated[int, typer.Option(min=1, max=9, help="Run the local Kafka as a KRaft cluster of this many "
                                                            "brokers (topics then get min(3, brokers) copies).")] = 1,
    http_port: Annotated[int, typer.Option(help="Port for the worker's web server.")] = 6066,
    reports_port: Annotated[int, typer.Option(help="Port for the sink's report endpoint.")] = 6067,
    demo: Annotated[bool, typer.Option(help="Publish a demo batch and print a summary.")] = False,
    once: Annotated[bool, typer.Option(help="Exit after the demo instead of serving.")] = False,
) -> None:
    """Start the local stack: Kafka (unless KAFKA_BOOTSTRAP_SERVERS is set), the worker and the sink."""
    from streams.cli.demo import run_demo
    from streams.cli.devstack import DevStack, StackError
    from streams.kafka.localkafka import KafkaStartError

    settings = read_settings()
    config = config_or_fail(settings)
    sigterm_as_interrupt()
    stack = DevStack(settings, kafka_port=kafka_port, http_port=http_port, reports_port=reports_port, brokers=brokers)
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
            console.print("What would another config have done with this traffic? hugai-llm replay --since 1h "
                          "--config config/models.yaml (edit a copy, and pass it)", style="dim", highlight=False)
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
        raise fail(str(exc), code=1) from None
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
            raise fail(str(exc), code=1) from None
        except (OSError, RuntimeError) as exc:
            raise fail(f"cannot reach Kafka at {manager.bootstrap}: {exc}", code=1) from None
    print(response.content)
    err.print(f"{response.model} via {response.provider}{' (simulated)' if response.simulated else ''}, "
              f"{response.usage.input_tokens}+{response.usage.output_tokens} tokens, ${response.cost_usd:.6f}, "
              f"{response.latency_ms.total:.0f} ms", style="dim", highlight=False)


@app.command()
def worker() -> None:
    """Run one router worker (Faust). Needs KAFKA_BOOTSTRAP_SERVERS."""
    from streams.app.worker import run_worker
    from streams.kafka.replication import ReplicationError

    settings = read_settings()
    if not settings.kafka_bootstrap_servers:
        raise fail("KAFKA_BOOTSTRAP_SERVERS is not set; start a broker with `hugai-llm dev`, or point at one")
    config_or_fail(settings)  # fail fast, with the config's own message
    try:
        run_worker(settings, settings.kafka_bootstrap_servers)
    except ReplicationError as exc:
        raise fail(str(exc)) from None


@app.command()
def sink() -> None:
    """Run the ClickHouse sink (its own consumer group). Needs KAFKA_BOOTSTRAP_SERVERS."""
    from analytics import SinkConfig, StoreError, open_store
    from analytics.service import serve_sink
    from streams.cli.quality_feed import quality_feed
    from streams.cli.replay import replay_endpoint
    from streams.config.settings import read_secret_env
    from streams.ingress.auth import ApiKeys
    from streams.kafka.replication import ReplicationError
    from streams.kafka.topics import APPROVALS, CONTROL, FEEDBACK, TELEMETRY, create_topics

    settings = read_settings()
    if not settings.kafka_bootstrap_servers:
        raise fail("KAFKA_BOOTSTRAP_SERVERS is not set")
    config = config_or_fail(settings)
    logging.basicConfig(level=settings.hugai_log_level.upper().replace("WARN", "WARNING"),
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    try:
        # Whichever process starts first creates every topic: the sink reads four of them.
        asyncio.run(create_topics(settings.kafka_bootstrap_servers, partitions=settings.hugai_partitions,
                                  caching=config.response_caching))
    except ReplicationError as exc:
        raise fail(str(exc)) from None
    try:
        store = open_store(settings.clickhouse_url, settings.chdb_path)
    except StoreError as exc:
        raise fail(str(exc), code=1) from None
    serve_sink(store, SinkConfig(bootstrap=settings.kafka_bootstrap_servers, topics=(TELEMETRY, FEEDBACK, CONTROL, APPROVALS),
                                 max_batch_age_s=settings.hugai_sink_flush_s),
               ready_file=settings.hugai_data_dir / "sink.ready", report_host=settings.hugai_http_host,
               report_port=settings.hugai_reports_port, daily_budgets=dict(config.cost_controls.daily_budgets),
               retention=config.security_configuration.data_protection.data_retention,
               authorize=ApiKeys.from_specs(config.api_keys, read_secret_env).authorizer(open_when_empty=True),
               background=[quality_feed(config.quality_feedback, settings.kafka_bootstrap_servers)],
               replay=replay_endpoint)


# Registered here so that `hugai-llm --help` lists them where it always has: after sink, before bench.
for command in (report, replay, feedback, erase):
    app.command()(command)


@app.command()
def bench(
    rate: Annotated[Optional[float], typer.Option(min=0.1, help="Requests per second.")] = None,
    saturate: Annotated[bool, typer.Option(help="As fast as the stack answers (2,000 in flight at most).")] = False,
    duration: Annotated[float, typer.Option(min=1.0, help="Seconds of load.")] = 20.0,
    provider_latency_ms: Annotated[float, typer.Option(min=0.0, help="The bench provider's latency.")] = 0.0,
    provider_url: Annotated[Optional[str], typer.Option(help="Use this running OpenAI-compatible server instead.")] = None,
    warmup: Annotated[float, typer.Option(min=0.0, help="Seconds of the same load first, not counted.")] = 10.0,
    stream: Annotated[bool, typer.Option(help="Stream every request; also report the TTFT the router adds.")] = False,
    workers: Annotated[int, typer.Option(min=1, max=4,
                                         help="Workers in one consumer group (llm.requests has 4 partitions).")] = 1,
    brokers: Annotated[int, typer.Option(min=1, max=5, help="Brokers of the local Kafka the bench starts "
                                                            "(ignored with KAFKA_BOOTSTRAP_SERVERS).")] = 1,
    cache: Annotated[bool, typer.Option(help="Keep the config's response cache and deduplication on (every prompt "
                                              "still differs: each request pays the lookup, and none hits).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Drive a fresh stack through Kafka at a fixed rate or at saturation, and report what it adds."""
    from streams.cli.bench import run_bench

    if (rate is None) == (not saturate):
        raise fail("give exactly one of --rate R or --saturate")
    result = run_bench(rate=rate, duration_s=duration, provider_latency_ms=provider_latency_ms,
                       provider_url=provider_url, warmup_s=warmup, stream=stream, workers=workers, cache=cache, brokers=brokers,
                       progress=lambda line: err.print(line, style="dim"))
    if as_json:
        print(json.dumps({"throughput_rps": result.throughput_rps, "added_latency_ms": result.added_latency_ms,
                          "rss_mb": result.rss_mb, "sink_lag_s": result.sink_lag_s, "mode": result.mode,
                          "sent": result.sent, "answered": result.answered, "errors": result.errors,
                          "duration_s": result.duration_s, "notes": result.notes,
                          "ttft_added_ms": result.ttft_added_ms, "cpu_ms_per_request": result.cpu_ms_per_request,
                          "provider_calls": result.provider_calls}))
        return
    latency = result.added_latency_ms
    calls = "" if result.provider_calls is None else f", {result.provider_calls} provider calls"
    console.print(f"{result.mode}, {result.duration_s:g} s: {result.answered}/{result.sent} answered "
                  f"({result.errors} errors{calls}), {result.throughput_rps:g} requests/s", highlight=False)
    console.print(f"added latency p50 {latency['p50']:g} ms, p95 {latency['p95']:g} ms, p99 {latency['p99']:g} ms; "
                  f"worker RSS {result.rss_mb:g} MB; sink caught up {result.sink_lag_s:g} s after the last answer",
                  highlight=False)
    console.print("CPU per request: " + ", ".join(f"{role} {ms:g} ms" for role, ms in result.cpu_ms_per_request.items()),
                  highlight=False)
    if (ttft := result.ttft_added_ms) is not None:
        console.print(f"TTFT added p50 {ttft['p50']:g} ms, p95 {ttft['p95']:g} ms, p99 {ttft['p99']:g} ms",
                      highlight=False)
    for note in result.notes:
        console.print(f"note: {note}", style="yellow")


@config_app.command("check")
def config_check(
    path: Annotated[Optional[Path], typer.Argument(help="Config file; default HUGAI_CONFIG or config/models.yaml.")] = None,
    models: Annotated[bool, typer.Option(help="Also ask each keyed provider which catalog wire ids it serves.")] = False,
) -> None:
    """Validate a config file and summarise it; with --models, check the catalog against the providers."""
    try:
        config = load_config(path or read_settings().hugai_config)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    from streams.config.compliance import active_controls

    if models:
        from streams.cli.served_models import print_served

        if not print_served(config, console):
            raise typer.Exit(1)
        return

    console.print(f"ok: {len(config.models)} models, {len(config.routing_strategy)} task types, "
                  f"{len(config.agent_model_mapping)} agent mappings, environments {', '.join(config.environments)}",
                  highlight=False)
    for requirement, controls in active_controls(config).items():
        console.print(f"{requirement}:", highlight=False)
        for control in controls:
            console.print(f"  - {control}", highlight=False, markup=False)


def main() -> None:
    # `kill -USR1 <pid>` prints every thread's stack to stderr: for diagnosing a process that hangs.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    app()

