"""How long the router on a 3-broker cluster takes to answer normally again after losing a broker or a worker.

    .venv/bin/python -m tests.benchmarks.broker_loss [--kill broker|worker] [--rate 30] [--duration 20] [--kill-at 6]
                                                     [--broker-session-timeout-ms 9000]

A local 3-node KRaft cluster (`LocalKafkaCluster`) and a stack on it (two workers, the sink, the
simulated provider). Requests go out at --rate through a ReplyClient. At --kill-at seconds, kill -9
either the broker that leads partition 0 of llm.requests, or worker-2 (restarted at once, as an
orchestrator would). Reported:

  answered / sent, and duplicates  (each request's responses, read read_committed)
  before_ms                        p50 / p99 of send-to-answer before the kill
  stall_s                          the longest pause between two answers after the kill
  normal_after_s                   from the kill until the first request after which every request
                                   is answered within 2x the p99 before the kill
  worst_ms                         the slowest request
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from streams.cli.devstack import DevStack
from streams.client.reply_client import ReplyClient
from streams.config.settings import Settings
from streams.events import LLMRequest
from streams.events.topic_names import REQUESTS
from streams.kafka.admin import admin_client
from streams.kafka.localkafka import LocalKafkaCluster, free_port
from tests.e2e.test_crash import committed_counts


async def _leader(bootstrap: str, topic: str, partition: int) -> int:
    async with admin_client(bootstrap) as admin:
        [described] = await admin.describe_topics([topic])
        return next(p["leader"] for p in described["partitions"] if p["partition"] == partition)


async def drive(dev: DevStack, cluster: LocalKafkaCluster, *, kill: str, rate: float, duration_s: float,
                kill_at_s: float) -> dict:
    run = uuid.uuid4().hex[:6]
    count = int(rate * duration_s)
    requests = [LLMRequest(request_id=f"loss-{run}-{i}", task_type="code_generation", prompt=f"go on {i}")
                for i in range(count)]
    sent_at: dict[str, float] = {}
    answered_at: dict[str, float] = {}
    killed_at = None
    async with ReplyClient(dev.bootstrap) as client:
        futures = []
        started = time.monotonic()
        for i, request in enumerate(requests):
            await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            if killed_at is None and time.monotonic() - started >= kill_at_s:
                if kill == "broker":
                    await asyncio.to_thread(cluster.kill, await _leader(dev.bootstrap, REQUESTS, 0))
                else:
                    dev.kill("worker-2")
                    dev.start_worker("worker-2", wait=False)
                killed_at = time.monotonic()
            sent_at[request.request_id] = time.monotonic()
            future = (await client.publish([request]))[request.request_id]
            future.add_done_callback(lambda _f, rid=request.request_id: answered_at.setdefault(rid, time.monotonic()))
            futures.append(future)
        _, pending = await asyncio.wait(futures, timeout=180)
        reply_topic = client.reply_topic
    counts = await committed_counts(dev.bootstrap, reply_topic, set(sent_at), 30)
    latency = {rid: (answered_at[rid] - sent_at[rid]) * 1000 for rid in answered_at}
    before = sorted(latency[r.request_id] for r in requests if sent_at[r.request_id] < killed_at
                    and r.request_id in latency and answered_at[r.request_id] < killed_at)
    p99_before = before[int(0.99 * (len(before) - 1))] if before else 0.0
    after = sorted(answered_at[rid] for rid in answered_at if answered_at[rid] >= killed_at)
    stall = max((b - a for a, b in zip([killed_at, *after], after)), default=0.0)
    later = [r.request_id for r in requests if sent_at[r.request_id] >= killed_at]
    normal_from = next((i for i in range(len(later))
                        if all(latency.get(rid, float("inf")) <= 2 * p99_before for rid in later[i:])), None)
    return {"kill": kill, "sent": count, "answered": len(answered_at), "unanswered": len(pending),
            "duplicates": sum(n - 1 for n in counts.values() if n > 1),
            "before_ms": (round(statistics.median(before), 1), round(p99_before, 1)) if before else None,
            "stall_s": round(stall, 2),
            "normal_after_s": None if normal_from is None else round(sent_at[later[normal_from]] - killed_at, 2),
            "worst_ms": round(max(latency.values()), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill", choices=("broker", "worker"), default="broker")
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--kill-at", type=float, default=6.0)
    parser.add_argument("--broker-session-timeout-ms", type=int, default=None,
                        help="the brokers' broker.session.timeout.ms (Kafka's default: 9000)")
    args = parser.parse_args()
    properties = (() if args.broker_session_timeout_ms is None else
                  (("broker.session.timeout.ms", str(args.broker_session_timeout_ms)),
                   ("broker.heartbeat.interval.ms", str(max(100, args.broker_session_timeout_ms // 6)))))
    with tempfile.TemporaryDirectory(prefix="hugai-loss-") as tmp, \
            LocalKafkaCluster(data_dir=Path(tmp) / "kafka", cache_dir=Settings().hugai_cache_dir,
                              properties=properties) as cluster:
        os.environ.update({"KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap, "HUGAI_DATA_DIR": tmp,
                           "HUGAI_LOG_LEVEL": "warn"})
        dev = DevStack(Settings(), http_port=free_port(), reports_port=free_port(), extra_worker_ports=(free_port(),))
        with dev:
            result = asyncio.run(drive(dev, cluster, kill=args.kill, rate=args.rate, duration_s=args.duration,
                                       kill_at_s=args.kill_at))
    print(result)


if __name__ == "__main__":
    main()
