"""What one answered request costs the broker: requests by type and records by topic, a benchmark, not a test.

It starts a broker of its own with JMX on, a stack (one worker, the sink) against it and the bench's
OpenAI-compatible stub (0 ms), drives requests at a fixed rate (5 s of warm-up first), and divides
the broker's counters (kafka.network RequestsPerSec, kafka.server MessagesInPerSec) and its CPU
time over the measured run by the answers. Transaction commit markers count as records of the
topics they are written to.

    .venv/bin/python -m tests.benchmarks.broker_requests [--rate 30] [--duration 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from pathlib import Path

from streams.cli import bench
from streams.cli.devstack import DevStack
from streams.config.settings import Settings
from streams.kafka.localkafka import LocalKafka, free_port

COUNTS_SOURCE = Path(__file__).with_name("KafkaCounts.java")
# Sub-counts of Fetch (consumers and followers): counted once, as Fetch.
SKIPPED = {"request FetchConsumer", "request FetchFollower"}


class _JmxBroker(LocalKafka):
    jmx_port: int = 0

    def _jvm_flags(self) -> list[str]:
        return [*super()._jvm_flags(), f"-Dcom.sun.management.jmxremote.port={self.jmx_port}",
                "-Dcom.sun.management.jmxremote.authenticate=false", "-Dcom.sun.management.jmxremote.ssl=false",
                "-Dcom.sun.management.jmxremote.host=127.0.0.1", "-Djava.rmi.server.hostname=127.0.0.1"]


def _counts(port: int) -> dict[str, float]:
    out = subprocess.run(["java", str(COUNTS_SOURCE), str(port)], capture_output=True, text=True, check=True).stdout
    return {name: float(value) for name, value in (line.split("\t") for line in out.splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=15.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hugai-broker-requests-"))
    broker = _JmxBroker(data_dir=tmp / "kafka", cache_dir=Settings().hugai_cache_dir, port=free_port())
    broker.jmx_port = free_port()
    bootstrap = broker.start()
    try:
        with bench.OpenAIStub(0) as stub:
            os.environ.update({"HUGAI_DATA_DIR": str(tmp), "HUGAI_CONFIG": str(bench.bench_config(tmp)),
                               "OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": stub.base_url, "HUGAI_LOG_LEVEL": "warn",
                               "KAFKA_BOOTSTRAP_SERVERS": bootstrap})
            stack = DevStack(Settings(), http_port=free_port(), reports_port=free_port())
            stack.start()
            try:
                asyncio.run(bench._drive(bootstrap, rate=args.rate, duration_s=5, sample=lambda: None))
                time.sleep(2)  # the warm-up's last answers and settlements
                before, cpu_before = _counts(broker.jmx_port), bench.cpu_seconds(broker.pid)
                _, answered, *_ = asyncio.run(bench._drive(bootstrap, rate=args.rate, duration_s=args.duration,
                                                           sample=lambda: None))
                after, cpu_after = _counts(broker.jmx_port), bench.cpu_seconds(broker.pid)
            finally:
                stack.stop()
    finally:
        broker.stop()
    print(f"rate {args.rate:g}/s for {args.duration:g} s: {answered} answered; "
          f"broker CPU {(cpu_after - cpu_before) * 1000 / answered:.1f} ms per answer")
    for kind in ("request", "records"):
        rows = sorted(((name, (after[name] - before.get(name, 0.0)) / answered) for name in after
                       if name.startswith(kind + " ") and name not in SKIPPED), key=lambda row: -row[1])
        print(f"{kind} per answer: {sum(value for _, value in rows):.2f}")
        for name, value in rows:
            if value >= 0.05:
                print(f"  {name[len(kind) + 1:]:40s} {value:6.2f}")


if __name__ == "__main__":
    main()
