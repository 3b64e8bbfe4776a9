"""What a candidate config would have done with recorded traffic: the core of `hugai-llm replay`.

Each recorded request (analytics/replay_source.py), oldest first, is planned again by the candidate
config's own routing core (streams/agents/planning.py), and no provider is called:

- Routing sees the config alone: tier priors, no open breakers, no rate limits, no live latency or
  feedback figures. Those were the cluster's state at the time; the replay shows the config's choice.
- The model that would answer is the first candidate in the plan's order (then its degradation
  tier) whose call fits the candidate's budgets, as the budget gate decides it
  (streams/routing/budgets.py): spend accumulates per window over the replayed requests, from zero
  at the start of the range. No candidate fits: refused, `budget_exceeded`. No candidate at all:
  refused with routing's own reason (`no_model_fits`, ...).
- Its cost: the recorded billed tokens at that model's price (the catalog's or the config's). A
  request answered from the cache cost nothing, and is counted so again.
- Its latency and quality: the recorded p50 and users' quality of that model on that task in the
  range, each with its sample count; without samples, unknown (latency) or the tier's prior
  (quality, 0 samples).

The same rows and config always give the same report: the rows are ordered, and nothing reads a
clock or draws a random number.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from analytics.replay_source import RecordedFigures, recorded_figures, recorded_requests
from analytics.store import Store
from providers import Usage
from streams.agents.breakers import LocalBreakers
from streams.agents.cluster_state import ClusterState
from streams.agents.planning import plan_request
from streams.agents.price_book import PriceBook
from streams.agents.resilience import breaker_policy
from streams.cli.quality_feed import feedback_rule
from streams.config import HugaiConfig
from streams.events import LLMRequest
from streams.events.agent_parts import ImagePart, ResponseFormat, TextPart, ToolSpec
from streams.events.requests import ChatMessage, PerformanceRequirements
from streams.routing import RoutingError
from streams.routing.budgets import first_refusal, windows_for
from streams.routing.scoring import estimate_tokens, prior_quality

__all__ = ["Replayed", "replay", "summarize", "replay_report", "replay_endpoint", "GROUPINGS"]

GROUPINGS = ("task_type", "agent_context", "model")
# A 1x1 PNG: a recorded request had images; the replay needs the need, not the picture.
_PIXEL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


@dataclass(frozen=True)
class Replayed:
    row: dict  # the recorded request
    model: str | None  # the model the candidate would have used; None: refused
    cost_usd: float = 0.0
    latency_ms: float | None = None  # the recorded p50 of `model` on the task; None: no samples
    latency_samples: int = 0
    quality: float = 0.0  # users' quality of `model` on the task, or its tier's prior
    quality_samples: int = 0
    refused: str = ""  # why, when model is None


def request_of(row: dict) -> LLMRequest:
    """A request that routing sees as it saw the recorded one: task, agent, limits, needs, and a prompt
    whose token estimate is the one recorded. Its text is filler; its content was never stored."""
    wants = None
    if row.get("max_latency_ms") is not None or row.get("min_quality") is not None:
        wants = PerformanceRequirements(max_latency=row["max_latency_ms"] / 1000 if row.get("max_latency_ms") else None,
                                        min_quality=row.get("min_quality"))
    response_format = None
    if row.get("response_format") == "json_schema":
        response_format = ResponseFormat(type="json_schema", name="replay", schema={"type": "object"})
    elif row.get("response_format") in ("text", "json_object"):
        response_format = ResponseFormat(type=row["response_format"])

    def build(prompt: str) -> LLMRequest:
        parts = [TextPart(text=prompt), *(ImagePart(url=_PIXEL) for _ in range(int(row.get("images") or 0)))]
        return LLMRequest(
            request_id=row["request_id"], created_at=row["created_at"], task_type=row["task_type"],
            agent_context=row.get("agent_context") or None, messages=[ChatMessage(role="user", content=parts)],
            preferred_model=row.get("preferred_model") or None, fallback_models=list(row.get("fallback_models") or []),
            quality_threshold=row.get("quality_threshold"), max_cost_per_request=row.get("max_cost_usd"),
            performance_requirements=wants, max_tokens=row.get("max_tokens") or None, response_format=response_format,
            tools=[ToolSpec(name=f"tool_{i}") for i in range(int(row.get("tools_offered") or 0))],
            metadata={"complexity": row["complexity"]} if row.get("complexity") else {})

    target = int(row.get("estimated_input_tokens") or 0) if row.get("inputs_recorded") else int(row["input_tokens"])
    if texts := int(row.get("embedding_inputs") or 0):  # an embedding request: as many texts, as many tokens
        filler = "x" * max(1, 4 * (target // texts - 1))
        return LLMRequest(request_id=row["request_id"], created_at=row["created_at"], task_type=row["task_type"],
                          agent_context=row.get("agent_context") or None, input=[filler] * texts,
                          preferred_model=row.get("preferred_model") or None,
                          fallback_models=list(row.get("fallback_models") or []),
                          max_cost_per_request=row.get("max_cost_usd"))
    floor = estimate_tokens(build("x"))
    return build("x" * max(1, 4 * (target - floor) + 1))


def replay(rows: Iterable[dict], candidate: HugaiConfig, figures: RecordedFigures, *,
           progress: Callable[[int], None] = lambda done: None) -> list[Replayed]:
    state = ClusterState(LocalBreakers(breaker_policy(candidate)))
    prices = PriceBook(candidate)
    prices.warm_up()
    spent: dict[str, float] = defaultdict(float)
    out = []
    for done, row in enumerate(rows, start=1):
        out.append(_one(row, candidate, state, prices, spent, figures))
        progress(done)
    return out


def _one(row: dict, candidate: HugaiConfig, state: ClusterState, prices: PriceBook, spent: dict[str, float],
         figures: RecordedFigures) -> Replayed:
    request = request_of(row)
    at: datetime = request.created_at
    try:
        plan = plan_request(candidate, candidate.profile(row.get("environment") or ""), state, request,
                            now=at.timestamp(), estimate=prices.estimate)
    except RoutingError as exc:
        return Replayed(row, None, refused=f"{exc.code}: {exc.message}")
    order = plan.ranking.order + plan.ranking.degrade
    if not order:
        reasons = "; ".join(f"{m}: {why}" for m, why in sorted(plan.ranking.excluded.items()))
        return Replayed(row, None, refused=f"no_model_fits: {reasons}")
    usage = Usage(input_tokens=int(row["input_tokens"]), output_tokens=int(row["output_tokens"]),
                  cached_input_tokens=int(row.get("cached_input_tokens") or 0),
                  cache_write_tokens=int(row.get("cache_write_tokens") or 0),
                  reasoning_tokens=int(row.get("reasoning_tokens") or 0))
    first_refused = ""
    for model in order:
        spec = candidate.models[model]
        cost = 0.0 if row.get("cache_hit") else prices.cost(spec, usage)
        windows = windows_for(candidate, spec.provider, at)
        if (refusal := first_refusal(windows, cost, spent, {})) is not None:
            first_refused = first_refused or refusal
            continue
        for window in windows:
            spent[window.key] += cost
        task = row["task_type"]
        latency, latency_samples = figures.latency.get((model, task), (None, 0))
        quality, quality_samples = figures.quality.get((model, task), (prior_quality(candidate, model), 0))
        return Replayed(row, model, cost_usd=cost, latency_ms=latency, latency_samples=latency_samples,
                        quality=quality, quality_samples=quality_samples)
    return Replayed(row, None, refused=f"budget_exceeded: {first_refused}")


@dataclass
class _Group:
    requests: int = 0
    changed: int = 0
    refused: Counter = field(default_factory=Counter)
    actual_models: Counter = field(default_factory=Counter)
    candidate_models: Counter = field(default_factory=Counter)
    actual_cost: float = 0.0
    candidate_cost: float = 0.0
    actual_ms: list = field(default_factory=list)
    candidate_ms: list = field(default_factory=list)
    actual_quality: list = field(default_factory=list)
    candidate_quality: list = field(default_factory=list)
    backed_latency: int = 0  # candidate estimates with recorded latency samples
    backed_quality: int = 0  # and with users' judgments


def summarize(replayed: list[Replayed], figures: RecordedFigures, candidate: HugaiConfig, *,
              by: str = "task_type") -> list[dict]:
    """One row per group and a total: what happened beside what the candidate would have done."""
    if by not in GROUPINGS:
        raise ValueError(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    groups: dict[str, _Group] = defaultdict(_Group)
    for item in replayed:
        row = item.row
        for name in (str(row.get(by) or "(none)"), "(total)"):
            g = groups[name]
            g.requests += 1
            g.actual_models[row["model"] or "(none)"] += 1
            g.actual_cost += float(row["cost_usd"])
            if row["status"] == "ok":
                g.actual_ms.append(float(row["total_ms"]))
                g.actual_quality.append(figures.quality.get((row["model"], row["task_type"]), (
                    prior_quality(candidate, row["model"]) if row["model"] in candidate.models else 0.0, 0))[0])
            if item.model is None:
                g.refused[item.refused.split(":", 1)[0]] += 1
                continue
            g.candidate_models[item.model] += 1
            g.changed += item.model != row["model"]
            g.candidate_cost += item.cost_usd
            if item.latency_ms is not None:
                g.candidate_ms.append(item.latency_ms)
                g.backed_latency += 1
            g.candidate_quality.append(item.quality)
            g.backed_quality += item.quality_samples > 0
    rows = []
    for name in sorted(groups, key=lambda n: (n == "(total)", n)):
        g = groups[name]
        rows.append({
            by: name, "requests": g.requests, "changed_model": g.changed,
            "refused": sum(g.refused.values()), "refused_why": dict(sorted(g.refused.items())),
            "actual_models": _mix(g.actual_models, g.requests), "candidate_models": _mix(g.candidate_models, g.requests),
            "actual_cost_usd": round(g.actual_cost, 9), "candidate_cost_usd": round(g.candidate_cost, 9),
            "actual_p50_ms": _median(g.actual_ms), "candidate_p50_ms": _median(g.candidate_ms),
            "actual_quality": _mean(g.actual_quality), "candidate_quality": _mean(g.candidate_quality),
            "latency_backed": g.backed_latency, "quality_backed": g.backed_quality,
        })
    return rows


def _mix(counts: Counter, total: int) -> dict[str, float]:
    return {model: round(n / total, 4) for model, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def replay_report(store: Store, candidate: HugaiConfig, *, start: datetime, end: datetime, by: str,
                  progress: Callable[[int, int], None] = lambda done, total: None) -> list[dict]:
    """Read the recorded range from `store`, replay it under `candidate`, and summarize by `by`."""
    if by not in GROUPINGS:
        raise ValueError(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    rows = recorded_requests(store, start, end)
    figures = recorded_figures(store, start, end, feedback_rule(candidate.quality_feedback))
    replayed = replay(rows, candidate, figures, progress=lambda done: progress(done, len(rows)))
    return summarize(replayed, figures, candidate, by=by)


def replay_endpoint(store: Store, body: dict) -> list[dict]:
    """POST /replay on the sink: {"config": YAML text, "start": ISO, "end": ISO, "by": ...}. Bad input
    raises ValueError, which the endpoint answers with 400 and the message."""
    import yaml

    from streams.config import ConfigError, parse_config

    try:
        candidate = parse_config(yaml.safe_load(body.get("config") or ""), source="the posted config")
        start, end = (datetime.fromisoformat(str(body[k]).replace("Z", "+00:00")) for k in ("start", "end"))
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    except (KeyError, ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"a replay needs config (YAML), start and end (ISO 8601): {exc}") from None
    return replay_report(store, candidate, start=start, end=end, by=str(body.get("by") or "task_type"))
