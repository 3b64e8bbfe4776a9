"""The cost of one routing decision, in microseconds: a benchmark, not a test.

One decision is RequestServer.plan(): the route (task, agent, overrides), the cost estimate of
every catalog model, cost-efficiency selection where it applies, and the decision matrix with
its exclusions, over live figures for every model. No provider call and no Kafka.

    .venv/bin/python -m tests.benchmarks.route_decision [--decisions 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from streams.agents import RequestServer
from streams.agents.breakers import ClusterBreakers
from streams.agents.cluster_state import ClusterState
from streams.agents.provider_directory import build_directory
from streams.config import load_config
from streams.config.settings import ProviderCredentials
from streams.events import LLMRequest, ModelHealth
from streams.routing.breaker import BreakerPolicy

CASES = {
    "task route": LLMRequest(request_id="b", task_type="code_generation", prompt="Write a parser " * 20),
    "agent + constraints": LLMRequest(request_id="b", task_type="requirements_analysis", agent_context="test_agent",
                                      prompt="Check these requirements " * 20, quality_threshold=0.8,
                                      max_cost_per_request=0.5),
    "cost efficiency": LLMRequest(request_id="b", task_type="complex_reasoning", prompt="Sum 2 and 2",
                                  metadata={"complexity": "simple"}),
}


async def main(decisions: int) -> None:
    config = load_config()

    async def send(outcome) -> None:  # noqa: ANN001
        pass

    state = ClusterState(ClusterBreakers(BreakerPolicy(), me="bench", send=send))
    for i, model in enumerate(config.models):  # live figures for every model
        state.apply_health(ModelHealth(model=model, at=time.time(), figures={
            "calls": 100, "ok": 97, "p50_ms": 100 + i * 10, "p95_ms": 300 + i * 20, "tokens_per_s": 50 + i}))
    async with httpx.AsyncClient() as client:
        server = RequestServer(config=config, directory=build_directory(config, ProviderCredentials(), client),
                               environment="staging", state=state)
        server.warm_up()
        print(f"{'case':<22} {'p50 µs':>8} {'p99 µs':>8} {'mean µs':>8}")
        for name, request in CASES.items():
            for _ in range(500):
                server.plan(request)
            times = []
            for _ in range(decisions):
                started = time.perf_counter_ns()
                server.plan(request)
                times.append((time.perf_counter_ns() - started) / 1000)
            times.sort()
            print(f"{name:<22} {times[len(times) // 2]:>8.1f} {times[int(len(times) * 0.99)]:>8.1f} "
                  f"{statistics.fmean(times):>8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().decisions))
