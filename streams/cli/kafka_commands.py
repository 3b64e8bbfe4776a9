"""`hugai-llm kafka ...`: fetch the jars, run a local broker or cluster, and check a cluster's topics."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Optional

import typer
from rich.table import Table

from streams.cli.output import config_or_fail, console, fail, read_settings, sigterm_as_interrupt

__all__ = ["kafka_app"]

kafka_app = typer.Typer(help="Apache Kafka: the local broker or cluster, and the topics on any cluster.",
                        no_args_is_help=True)


@kafka_app.command("fetch")
def kafka_fetch() -> None:
    """Fetch the Apache Kafka jars from Maven Central into the cache (once)."""
    from streams.kafka.localkafka import KAFKA_VERSION, KafkaStartError, fetch_jars

    settings = read_settings()
    try:
        libs = fetch_jars(settings.hugai_cache_dir)
    except KafkaStartError as exc:
        raise fail(str(exc), code=1) from None
    console.print(f"Apache Kafka {KAFKA_VERSION}: {len(list(libs.glob('*.jar')))} jars in {libs}", highlight=False)


@kafka_app.command("start")
def kafka_start(
    brokers: Annotated[int, typer.Option(min=1, max=9, help="Nodes in the cluster (each a broker and a controller).")] = 1,
    port: Annotated[Optional[int], typer.Option(help="The first broker's port (the others take the next ones); "
                                                     "default 9092 for one broker, free ports for more.")] = None,
) -> None:
    """Run a local Kafka (one broker, or a KRaft cluster) in the foreground until Ctrl-C.

    Its data stays under HUGAI_DATA_DIR, so the next start finds its topics again. Point the
    router at it with the KAFKA_BOOTSTRAP_SERVERS line it prints."""
    from streams.kafka.localkafka import KafkaStartError, local_kafka

    settings = read_settings()
    sigterm_as_interrupt()
    try:
        kafka = local_kafka(settings.hugai_data_dir, settings.hugai_cache_dir, brokers=brokers, port=port)
        started = time.monotonic()
        with console.status(f"Starting {brokers} Kafka broker(s)..."):
            bootstrap = kafka.start()
    except KafkaStartError as exc:
        raise fail(str(exc), code=1) from None
    console.print(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}", highlight=False, soft_wrap=True)
    console.print(f"({brokers} broker(s) ready in {time.monotonic() - started:.1f}s; Ctrl-C stops them)", style="dim")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("Stopping...", style="dim")
    finally:
        kafka.stop()


@kafka_app.command("check")
def kafka_check() -> None:
    """List every topic the router uses on KAFKA_BOOTSTRAP_SERVERS, Faust's included, with its
    partitions, copies and min.insync.replicas; exit 1 when one is missing or below what is wanted."""
    from aiokafka.errors import KafkaError

    from streams.app.faust_app import APP_ID
    from streams.kafka.admin import admin_client
    from streams.kafka.replication import Replication, ReplicationError, describe_copies, shortfalls, wanted_factor
    from streams.kafka.topics import project_topics

    settings = read_settings()
    config = config_or_fail(settings)
    bootstrap = settings.kafka_bootstrap_servers or "127.0.0.1:9092"
    wanted = {name: partitions for name, (partitions, _) in
              project_topics(settings.hugai_partitions, config.response_caching).items()}

    async def inspect():  # noqa: ANN202
        async with admin_client(bootstrap) as admin:
            brokers = len((await admin.describe_cluster())["brokers"])
            replication = Replication.for_brokers(brokers, wanted_factor())
            faust_topics = [t for t in await admin.list_topics() if t.startswith(f"{APP_ID}-")]
            return brokers, replication, await describe_copies(admin, [*wanted, *faust_topics]), faust_topics

    try:
        brokers, replication, found, faust_topics = asyncio.run(inspect())
    except ReplicationError as exc:
        raise fail(str(exc)) from None
    except (KafkaError, OSError) as exc:
        raise fail(f"cannot reach Kafka at {bootstrap}: {type(exc).__name__}: {exc}", code=1) from None
    table = Table("topic", "partitions", "copies", "min.insync.replicas", "lacks", title=(
        f"{bootstrap}: {brokers} broker(s); wanted {replication.factor} copies, min.insync.replicas "
        f"{replication.min_insync}"))
    wanted |= {name: found[name].partitions for name in faust_topics if name in found}
    lacking = dict(line.split(": ", 1) for line in shortfalls(found, wanted, replication))
    for name in sorted(wanted):
        copies = found.get(name)
        cells = ("-", "-", "-") if copies is None else (str(copies.partitions), str(copies.replicas), str(copies.min_insync))
        table.add_row(name, *cells, f"[red]{lacking[name]}[/]" if name in lacking else "")
    console.print(table)
    if lacking:
        console.print(f"{len(lacking)} topic(s) below what this cluster should hold. Missing ones are created by the "
                      "next worker or sink to start; existing ones are an operator's to move "
                      "(kafka-reassign-partitions, kafka-configs --alter).", style="yellow")
        raise typer.Exit(1)
