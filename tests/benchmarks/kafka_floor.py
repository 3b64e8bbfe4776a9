"""The floor under the hot path: a bare request -> worker -> answer loop on Kafka. A benchmark, not a test.

What one request costs at the least when its answer goes out exactly once, with nothing of ours in
the way: a client produces requests; a worker process consumes them (read_committed) and, for
each batch it fetched, publishes one answer and one 'answered' marker per request and commits
its consumer offsets in one Kafka transaction (a group commit); the client reads the answers
read_committed and times them. No routing, no keepers, no Faust. `hugai-llm bench` figures are
meant to be read as a ratio to these (docs/benchmarks.md).

With --provider the worker also makes, for each request, the one thing a router cannot skip: a
chat completion call over httpx, through the project's own client (providers.http.make_client), to
the bench's OpenAI-compatible stub (0 ms), all of a batch's calls at once. That is the floor for a
Python router that calls a provider per request.

With --provider-latency-ms (the stub answers after that long) a batch cannot wait for its slowest
call, so the worker pipelines instead: each request's call starts as it is fetched, and every
answer finished by the time the last transaction ended goes in the next one, with the group's
offsets up to the first request not yet answered. The floor for slow calls with many in flight.

    .venv/bin/python -m tests.benchmarks.kafka_floor --saturate 20000 [--provider]
    .venv/bin/python -m tests.benchmarks.kafka_floor --rate 100 --duration 15 [--provider]
    .venv/bin/python -m tests.benchmarks.kafka_floor --rate 300 --duration 15 --provider-latency-ms 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from providers.http import make_client, post_json
from streams.cli.bench import OpenAIStub, cpu_seconds
from streams.config.settings import Settings
from streams.kafka.admin import ensure_topics
from streams.kafka.localkafka import QUICK_JIT, LocalKafka, free_port

PARTITIONS = 4
SETTLE_S = 0.003


def _topics(run: str) -> tuple[str, str, str]:
    return f"floor-{run}-requests", f"floor-{run}-answers", f"floor-{run}-answered"


async def worker(bootstrap: str, run: str, provider_url: str | None) -> None:
    requests, answers, markers = _topics(run)
    client = make_client() if provider_url else None
    group = f"floor-{run}"
    consumer = AIOKafkaConsumer(requests, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                isolation_level="read_committed", auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"{group}-tx", acks="all", linger_ms=0)
    await consumer.start()
    await producer.start()
    print("ready", flush=True)
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            if not batch:
                continue
            if client is not None:
                await asyncio.gather(*(_call(client, provider_url, record.value)
                                       for records in batch.values() for record in records))
            async with producer.transaction():
                offsets = {}
                for tp, records in batch.items():
                    for record in records:
                        await producer.send(answers, record.value, key=record.key, partition=tp.partition)
                        await producer.send(markers, b"", key=str(record.offset).encode(), partition=tp.partition)
                    offsets[tp] = records[-1].offset + 1
                await producer.send_offsets_to_transaction(offsets, group)
            # As the outbox does (MARKERS_SETTLE_S): a transaction begun before the last one's markers
            # are written is refused and retried 20 ms later.
            await asyncio.sleep(SETTLE_S)
    finally:
        await producer.stop()
        await consumer.stop()
        if client is not None:
            await client.aclose()


async def pipelined_worker(bootstrap: str, run: str, provider_url: str) -> None:
    requests, answers, markers = _topics(run)
    # As many connections as the worker has (streams/app/worker.py): 2 s calls at 300/s are 600 at once.
    client = make_client(max_connections=Settings().hugai_agent_concurrency)
    group = f"floor-{run}"
    consumer = AIOKafkaConsumer(requests, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                isolation_level="read_committed", auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"{group}-tx", acks="all", linger_ms=0)
    await consumer.start()
    await producer.start()
    finished: list[tuple[TopicPartition, int, bytes, bytes | None]] = []
    wakeup = asyncio.Event()
    frontier: dict[TopicPartition, int] = {}  # the first offset not answered yet
    answered: dict[TopicPartition, set[int]] = {}  # answered offsets past it

    async def serve(tp: TopicPartition, offset: int, key: bytes | None, value: bytes) -> None:
        await _call(client, provider_url, value)
        finished.append((tp, offset, value, key))
        wakeup.set()

    async def commit_forever() -> None:
        while True:
            await wakeup.wait()
            wakeup.clear()
            batch = finished[:]
            del finished[:]
            async with producer.transaction():
                for tp, offset, value, key in batch:
                    await producer.send(answers, value, key=key, partition=tp.partition)
                    await producer.send(markers, b"", key=str(offset).encode(), partition=tp.partition)
                    answered[tp].add(offset)
                moved = {}
                for tp, done in answered.items():
                    start = frontier[tp]
                    while frontier[tp] in done:
                        done.discard(frontier[tp])
                        frontier[tp] += 1
                    if frontier[tp] != start:
                        moved[tp] = frontier[tp]
                if moved:
                    await producer.send_offsets_to_transaction(moved, group)
            await asyncio.sleep(SETTLE_S)

    committer = asyncio.create_task(commit_forever())
    calls: set[asyncio.Task] = set()
    print("ready", flush=True)
    try:
        while True:
            for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=500)).items():
                for record in records:
                    frontier.setdefault(tp, record.offset)
                    answered.setdefault(tp, set())
                    call = asyncio.create_task(serve(tp, record.offset, record.key, record.value))
                    calls.add(call)
                    call.add_done_callback(calls.discard)
    finally:
        committer.cancel()
        await producer.stop()
        await consumer.stop()
        await client.aclose()


async def _call(client: httpx.AsyncClient, base_url: str, request: bytes) -> None:
    body = {"model": "bench", "messages": [{"role": "user", "content": json.loads(request)["request_id"]}]}
    answer, _ = await post_json(client, f"{base_url}/chat/completions", body, headers={}, provider="openai")
    assert answer["choices"], answer


async def drive(bootstrap: str, run: str, *, rate: float | None, count: int, worker_pid: int,
                broker_pid: int | None) -> dict:
    requests, answers, _ = _topics(run)
    sent: dict[str, float] = {}
    took: list[float] = []
    reader = AIOKafkaConsumer(answers, bootstrap_servers=bootstrap, isolation_level="read_committed",
                              auto_offset_reset="latest", enable_auto_commit=False)
    await reader.start()
    await reader.getmany(timeout_ms=200)  # assigned before the first request goes
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0 if rate else 5)
    await producer.start()
    pids = {"worker": worker_pid, "client": os.getpid(), **({"broker": broker_pid} if broker_pid else {})}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()

    async def read() -> None:
        while len(took) < count:
            for records in (await reader.getmany(timeout_ms=500)).values():
                now = time.perf_counter()
                took.extend((now - sent.pop(r.key.decode())) * 1000 for r in records if r.key.decode() in sent)

    reading = asyncio.create_task(read())
    for i in range(count):
        key = f"{run}-{i}"
        sent[key] = time.perf_counter()
        await producer.send(requests, json.dumps({"request_id": key}).encode(), key=key.encode())
        if rate:
            await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
    await asyncio.wait_for(reading, timeout=120)
    elapsed = time.perf_counter() - started
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    await producer.stop()
    await reader.stop()
    took.sort()
    return {"mode": f"rate {rate:g}/s" if rate else "saturate", "answered": len(took), "seconds": round(elapsed, 2),
            "throughput_per_s": round(len(took) / elapsed, 1),
            "latency_ms": {"p50": round(statistics.median(took), 2), "p95": round(took[int(0.95 * (len(took) - 1))], 2),
                           "p99": round(took[int(0.99 * (len(took) - 1))], 2)},
            "cpu_ms_per_request": {name: round(1000 * s / len(took), 3) for name, s in cpu.items()}}


async def measure(bootstrap: str, args: argparse.Namespace, broker_pid: int | None) -> None:
    run = uuid.uuid4().hex[:8]
    await ensure_topics(bootstrap, list(_topics(run)), partitions=PARTITIONS)
    # In this process, as in `hugai-llm bench`.
    stub = OpenAIStub(args.provider_latency_ms).__enter__() if args.provider else None
    provider = ["--provider-url", stub.base_url] if stub else []
    if args.provider_latency_ms:
        provider.append("--pipelined")
    child = subprocess.Popen([sys.executable, "-m", "tests.benchmarks.kafka_floor", "--worker", run,
                              "--bootstrap", bootstrap, *provider], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready", "the worker did not start"
        await asyncio.sleep(3)  # its group settles before the clock starts
        count = args.saturate or int(args.rate * args.duration)
        # Warm-up, not counted: new partitions settle and the broker's JIT compiles the hot paths.
        await drive(bootstrap, run, rate=args.rate, count=int(args.rate * 5) if args.rate else 2000,
                    worker_pid=child.pid, broker_pid=broker_pid)
        result = await drive(bootstrap, run, rate=args.rate, count=count, worker_pid=child.pid, broker_pid=broker_pid)
        if args.provider_latency_ms:  # what the loop adds to the stub's own latency, as `hugai-llm bench` reports
            result["added_latency_ms"] = {k: round(v - args.provider_latency_ms, 2) for k, v in result["latency_ms"].items()}
        print(json.dumps({**result, "provider_call": args.provider, "provider_latency_ms": args.provider_latency_ms}))
    finally:
        child.terminate()
        child.wait(timeout=30)
        if stub is not None:
            stub.__exit__()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saturate", type=int, help="send this many requests as fast as possible")
    parser.add_argument("--rate", type=float, help="requests per second")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--full-jit", action="store_true",
                        help="let the broker's JVM use its optimising compiler too (LocalKafka runs C1 only)")
    parser.add_argument("--provider", action="store_true",
                        help="the worker also calls an OpenAI-compatible stub over httpx for each request")
    parser.add_argument("--provider-latency-ms", type=float, default=0.0,
                        help="the stub answers after this long (implies --provider; the worker pipelines its calls)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--pipelined", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--provider-url", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.provider = args.provider or args.provider_latency_ms > 0
    if args.worker:
        if args.pipelined:
            asyncio.run(pipelined_worker(args.bootstrap, args.worker, args.provider_url))
        else:
            asyncio.run(worker(args.bootstrap, args.worker, args.provider_url))
        return
    if bool(args.saturate) == bool(args.rate):
        parser.error("give exactly one of --saturate N or --rate R")
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        asyncio.run(measure(bootstrap, args, None))
        return
    with tempfile.TemporaryDirectory() as tmp, \
            LocalKafka(data_dir=Path(tmp), cache_dir=Settings().hugai_cache_dir, port=free_port(),
                       jvm_options=() if args.full_jit else QUICK_JIT) as broker:
        asyncio.run(measure(broker.bootstrap, args, broker.pid))


if __name__ == "__main__":
    main()
