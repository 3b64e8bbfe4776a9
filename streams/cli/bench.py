"""`hugai-llm bench`: drive the running stack through Kafka and measure what the router adds.

It starts a stack (its own broker unless KAFKA_BOOTSTRAP_SERVERS is set, --workers workers, the sink)
whose OpenAI models are served by an OpenAI-compatible server: its own, answering after a set
latency, or the one at --provider-url. Requests go to llm.requests at a fixed rate or as fast as a
window of BENCH_WINDOW in flight allows, and come back on a reply topic. The same load runs for
--warmup seconds first, not counted: a fresh broker's JIT compiler alone took over half a core for
its first seconds, which a router that has been running does not pay.

Reported:
  throughput_rps     responses per second over the run
  added_latency_ms   p50/p95/p99 of (answered - sent) minus the time the provider took (the attempts)
  rss_mb             the peak resident memory of a worker (the largest, with several)
  cpu_ms_per_request CPU time (user + system) each process spent during the measured load, per answer:
                     each worker, the broker (when the bench started it), the sink, and this process
                     (the bench client and its provider stub)
  provider_calls     calls the bench provider took during the measured load (not known with
                     --provider-url): one per answer, unless something was served without one
  sink_lag_s         after the last answer, how long until the sink had committed every telemetry event
  ttft_added_ms      with --stream: p50/p95/p99 of (first delta at the client - sent) minus the bench
                     provider's own time to its first chunk (a quarter of its latency)

With --stream every request asks for a stream, and the bench provider sends STREAM_PIECES chunks:
the first after a quarter of its latency, the rest spread over what is left of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from aiohttp import web

from streams.cli.devstack import DevStack
from streams.client.reply_client import ReplyClient
from streams.config import DEFAULT_CONFIG_PATH
from streams.config.settings import Settings
from streams.events import LLMRequest, LLMResponse, TokenUsage
from streams.events.topic_names import TELEMETRY
from streams.ingress.openai_format import ChunkFrames
from streams.kafka.admin import group_lag
from streams.kafka.localkafka import LocalKafkaCluster, free_port

__all__ = ["BenchResult", "run_bench", "OpenAIStub"]

BENCH_WINDOW = 2000  # requests in flight at most when saturating
STREAM_PIECES = 8


class OpenAIStub:
    """A minimal OpenAI-compatible chat completions server on its own thread and event loop."""

    def __init__(self, latency_ms: float):
        self.latency_s = latency_ms / 1000
        self.port = free_port()
        self.calls = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls += 1
        if body.get("stream"):
            return await self._stream(request, body)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return web.json_response({
            "id": f"chatcmpl-{self.calls}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "bench"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
        })

    @property
    def ttft_s(self) -> float:
        return self.latency_s / 4

    async def _stream(self, request: web.Request, body: dict) -> web.StreamResponse:
        model = body.get("model", "bench")
        frames = ChunkFrames(str(self.calls), model)
        sse = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await sse.prepare(request)
        await sse.write(frames.role())
        gap_s = (self.latency_s - self.ttft_s) / max(1, STREAM_PIECES - 1)
        for i in range(STREAM_PIECES):
            await asyncio.sleep(self.ttft_s if i == 0 else gap_s)
            await sse.write(frames.content(f"w{i} "))
        done = LLMResponse(request_id=str(self.calls), status="ok", model=model,
                           usage=TokenUsage(input_tokens=8, output_tokens=STREAM_PIECES))
        for frame in frames.end(done, include_usage=True):
            await sse.write(frame)
        await sse.write_eof()
        return sse

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


@dataclass
class BenchResult:
    mode: str
    duration_s: float
    sent: int
    answered: int
    errors: int
    throughput_rps: float
    added_latency_ms: dict[str, float]
    rss_mb: float
    sink_lag_s: float
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ttft_added_ms: dict[str, float] | None = None  # with --stream
    provider_calls: int | None = None  # None with --provider-url

    def as_json(self) -> str:
        return json.dumps(self.__dict__)


def bench_config(directory: Path, *, cache: bool = False) -> Path:
    """The shipped config with nothing that would throttle a benchmark: no client-side rate limits,
    budgets far away, and unless `cache`, no response cache or deduplication. Every prompt differs
    (warm-up and measured load too), so with them nothing hits: each request pays the lookup only."""
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    for provider in raw.get("providers", {}).values():
        provider.pop("rate_limits", None)
    raw["cost_controls"]["daily_budgets"] = {name: "$1000000" for name in raw["cost_controls"]["daily_budgets"]}
    raw["cost_controls"]["monthly_limits"] = {"total_budget": "$10000000", "provider_caps": {}}
    if not cache:
        raw["cost_controls"]["cost_optimization_strategies"] = []
    path = directory / "bench-models.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of `pid` so far (0 when it is not known)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14, 15


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


async def _drive(bootstrap: str, *, rate: float | None, duration_s: float, sample: Callable[[], None],
                 stream_ttft_ms: float | None = None) -> tuple:
    """`stream_ttft_ms`: stream every request; the provider's own time to its first chunk."""
    sent_at: dict[str, float] = {}
    added: list[float] = []
    ttft_added: list[float] = []
    errors = 0
    run = uuid.uuid4().hex[:8]
    async with ReplyClient(bootstrap) as client:
        window = asyncio.Semaphore(BENCH_WINDOW)
        pending: list[asyncio.Future] = []

        async def one(i: int) -> None:
            nonlocal errors
            request = LLMRequest(request_id=f"bench-{run}-{i}", task_type="code_generation",
                                 prompt=f"bench {run} request {i}", max_tokens=8)
            sent_at[request.request_id] = time.perf_counter()
            if stream_ttft_ms is None:
                (future,) = (await client.publish([request])).values()
                response = await future
            else:
                response = await streamed(request)
            elapsed_ms = (time.perf_counter() - sent_at[request.request_id]) * 1000
            if response.status != "ok":
                errors += 1
            added.append(elapsed_ms - sum(a.latency_ms for a in response.attempts))

        async def streamed(request: LLMRequest) -> LLMResponse:
            first = None
            async with aclosing(client.stream(request, timeout=120)) as events:
                async for item in events:
                    if isinstance(item, str):
                        first = first or time.perf_counter()
                    else:
                        response = item
            if first is not None:
                ttft_added.append((first - sent_at[request.request_id]) * 1000 - stream_ttft_ms)
            return response

        async def guarded(i: int) -> None:
            try:
                await one(i)
            finally:
                window.release()

        started = time.perf_counter()
        i = 0
        last_sample = 0.0
        while (now := time.perf_counter()) - started < duration_s:
            if rate is not None:
                due = started + i / rate
                if due > now:
                    await asyncio.sleep(due - now)
            await window.acquire()
            pending.append(asyncio.ensure_future(guarded(i)))
            i += 1
            if now - last_sample > 0.5:
                sample()
                last_sample = now
        await asyncio.wait_for(asyncio.gather(*pending), timeout=120)
        elapsed = time.perf_counter() - started
    return i, len(added), errors, elapsed, added, ttft_added


def run_bench(*, rate: float | None, duration_s: float, provider_latency_ms: float, provider_url: str | None,
              warmup_s: float = 10.0, stream: bool = False, workers: int = 1, cache: bool = False, brokers: int = 1,
              progress: Callable[[str], None] = lambda line: None) -> BenchResult:
    notes = [f"after {warmup_s:g} s of the same load, not counted"] if warmup_s else ["no warm-up: a cold stack"]
    notes.append("response cache and deduplication on" if cache else "no response cache or deduplication (--cache)")
    with tempfile.TemporaryDirectory(prefix="hugai-bench-") as tmp, \
            (OpenAIStub(provider_latency_ms) if provider_url is None else _Nothing()) as stub:
        base_url = provider_url or stub.base_url
        if provider_url:
            notes.append(f"provider at {provider_url}; --provider-latency-ms does not apply")
        # With another server its first-chunk time is unknown: the TTFT added then includes it.
        stream_ttft_ms = (0.0 if provider_url else stub.ttft_s * 1000) if stream else None
        if stream and provider_url:
            notes.append("ttft_added_ms includes the provider's own time to its first chunk")
        env = {"HUGAI_DATA_DIR": tmp, "HUGAI_CONFIG": str(bench_config(Path(tmp), cache=cache)),
               "OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": base_url, "HUGAI_LOG_LEVEL": "warn"}
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            # A cluster takes free ports of its own: the ports after a free one may be taken.
            stack = DevStack(Settings(), kafka_port=free_port() if brokers == 1 else 0, http_port=free_port(),
                             reports_port=free_port(),
                             extra_worker_ports=tuple(free_port() for _ in range(workers - 1)), brokers=brokers)
            progress("starting the stack..." if workers == 1 else f"starting the stack with {workers} workers...")
            stack.start()
            try:
                worker_pids = {role: stack.children[role].pid for role in stack.workers}
                peak = {"rss": max(_rss_mb(pid) for pid in worker_pids.values())}

                def sample() -> None:
                    peak["rss"] = max(peak["rss"], *(_rss_mb(pid) for pid in worker_pids.values()))

                load = 'saturation' if rate is None else f'{rate:g} requests/s'
                if warmup_s:
                    progress(f"warming up: {load} for {warmup_s:g} s...")
                    asyncio.run(_drive(stack.bootstrap, rate=rate, duration_s=warmup_s, sample=sample,
                                       stream_ttft_ms=stream_ttft_ms))
                progress(f"driving {load} for {duration_s:g} s...")
                pids = {**worker_pids, "sink": stack.children["sink"].pid,
                        **_broker_pids(stack)}
                cpu_before = {role: cpu_seconds(p) for role, p in pids.items()} | {"bench": time.process_time()}
                calls_before = stub.calls if stub is not None else None
                sent, answered, errors, elapsed, added, ttft_added = asyncio.run(
                    _drive(stack.bootstrap, rate=rate, duration_s=duration_s, sample=sample,
                           stream_ttft_ms=stream_ttft_ms))
                cpu_after = {role: cpu_seconds(p) for role, p in pids.items()} | {"bench": time.process_time()}
                provider_calls = stub.calls - calls_before if stub is not None else None
                cpu_ms = {role: round((cpu_after[role] - cpu_before[role]) * 1000 / max(answered, 1), 3)
                          for role in cpu_before}
                sample()
                progress("waiting for the sink to catch up...")
                caught_up = time.perf_counter()
                while asyncio.run(group_lag(stack.bootstrap, "hugai-llm-sink", TELEMETRY)) > 0:
                    if time.perf_counter() - caught_up > 120:
                        notes.append("the sink had not caught up after 120 s")
                        break
                    time.sleep(0.1)
                sink_lag = time.perf_counter() - caught_up
            finally:
                stack.stop()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    mode = (("saturate" if rate is None else f"rate {rate:g}/s") + (", streamed" if stream else "")
            + (f", {workers} workers" if workers > 1 else "") + (f", {brokers} brokers" if brokers > 1 else ""))
    return BenchResult(mode=mode, duration_s=round(elapsed, 3), sent=sent, answered=answered, errors=errors,
                       throughput_rps=round(answered / elapsed, 1),
                       added_latency_ms=_percentiles(added), rss_mb=round(peak["rss"], 1),
                       sink_lag_s=round(sink_lag, 3), cpu_ms_per_request=cpu_ms, notes=notes,
                       ttft_added_ms=_percentiles(ttft_added) if stream else None, provider_calls=provider_calls)


def _broker_pids(stack: DevStack) -> dict[str, int]:
    """The brokers the bench started: "broker" alone, or "broker-1", "broker-2", ... in a cluster."""
    if isinstance(stack.kafka, LocalKafkaCluster):
        return {f"broker-{node.node_id}": node.pid for node in stack.kafka.nodes if node.pid is not None}
    return {"broker": stack.kafka.pid} if stack.kafka is not None and stack.kafka.pid is not None else {}


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
