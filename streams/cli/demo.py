"""The demo batch: every task type in routing_strategy plus a few agent contexts, summarised; then an
agent's tool loop (streams/cli/demo_agent.py)."""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict

from rich.console import Console
from rich.table import Table

from streams.cli.demo_agent import run_tool_loop
from streams.client.reply_client import ReplyClient
from streams.config import HugaiConfig
from streams.events import LLMRequest, LLMResponse

__all__ = ["demo_requests", "router_p50", "run_demo", "summary_table"]

_PROMPTS = {
    "complex_reasoning": "Weigh the trade-offs of event sourcing for an LLM router.",
    "code_generation": "Write a Python function that merges two sorted lists.",
    "requirements_analysis": "Analyze the following requirements for ambiguity: users can export reports.",
    "security_review": "Review this endpoint for injection risks: GET /search?q=...",
    "performance_optimization": "Suggest how to cut p99 latency of a Kafka consumer.",
    "embeddings": "An event-sourced LLM router on Kafka.",
}


def demo_requests(config: HugaiConfig, *, per_task: int = 4) -> list[LLMRequest]:
    run = uuid.uuid4().hex[:8]
    requests = []
    for task in config.routing_strategy:
        prompt = _PROMPTS.get(task, f"A sample {task} request.")
        embeds = config.models[config.expand(config.routing_strategy[task].primary)[0]].embeds
        for i in range(per_task):
            shape = ({"input": [prompt, f"{prompt} ({i})"]} if embeds  # vectors for two texts
                     else {"prompt": prompt, "max_tokens": 256})
            requests.append(LLMRequest(request_id=f"demo-{run}-{task}-{i}", task_type=task, metadata={"tenant": "demo"},
                                       **shape))
    for agent in ("test_agent", "documentation_writer"):
        requests.append(LLMRequest(request_id=f"demo-{run}-{agent}", task_type="code_generation",
                                   agent_context=agent, prompt="Generate unit tests for this function...",
                                   max_tokens=256, metadata={"tenant": "demo"}))
    return requests


def summary_table(requests: list[LLMRequest], responses: dict[str, LLMResponse]) -> Table:
    groups: dict[str, list[LLMResponse]] = defaultdict(list)
    for request in requests:
        label = request.task_type + (f" ({request.agent_context})" if request.agent_context else "")
        groups[label].append(responses[request.request_id])
    simulated = any(r.simulated for r in responses.values())
    table = Table(title="hugai-llm demo" + (" — SIMULATED provider results" if simulated else ""),
                  caption="total: the worker's time from taking a request to its answer; router: total less the "
                          "provider's time, over the requests that were not shared when there are any (a shared "
                          "answer's time is mostly its wait for the identical request's call); shared: answered "
                          "from the cache or an identical request in flight")
    numbers = ("p50 total ms", "p50 router ms", "shared", "cost USD")
    for column in ("task type", "model", "status", *numbers, "source"):
        table.add_column(column, justify="right" if column in numbers else "left")
    for label, group in groups.items():
        models = sorted({r.model or "-" for r in group})
        ok = sum(r.status == "ok" for r in group)
        table.add_row(
            label,
            ", ".join(models),
            f"ok {ok}/{len(group)}",
            f"{statistics.median(r.latency_ms.total for r in group):.1f}",
            f"{router_p50(group):.1f}",
            f"{sum(r.cache_hit for r in group)}/{len(group)}",
            f"{sum(r.cost_usd for r in group):.6f}",
            "simulated" if any(r.simulated for r in group) else "live",
        )
    return table


def router_p50(group: list[LLMResponse]) -> float:
    """The router's own time: a request answered by an identical one in flight spent its time waiting
    for that one's provider call, which would be counted as the router's."""
    own = [r for r in group if not r.cache_hit] or group
    return statistics.median(_router_ms(r) for r in own)


def _router_ms(response: LLMResponse) -> float:
    return max(0.0, response.latency_ms.total - sum(attempt.latency_ms for attempt in response.attempts))


async def run_demo(bootstrap: str, config: HugaiConfig, *, console: Console, timeout: float = 120.0) -> dict[str, LLMResponse]:
    requests = demo_requests(config)
    console.print(f"Publishing {len(requests)} demo requests to llm.requests ...")
    async with ReplyClient(bootstrap) as client:
        responses = await client.call(requests, timeout=timeout)
        console.print(summary_table(requests, responses))
        for answer in await run_tool_loop(client, console, timeout=timeout):
            responses[answer.request_id] = answer
    return responses
