"""The multi-criteria decision matrix (selection_criteria): score candidates, exclude the ones that
cannot meet a hard constraint (with the reason), and order the rest. Pure: figures and prices in.

Each criterion is a number in [0, 1]; the score is their weighted sum (weights from config,
0.3 / 0.4 / 0.2 / 0.1 in the seed):
  cost_sensitivity          1 - estimated cost / the dearest candidate's estimated cost
  performance_requirements  live latency: the best p50 / this p50 and the best p95 / this p95, averaged,
                            then 3:1 with throughput (output tokens/s over the best). No data: PRIOR_PERFORMANCE.
  quality_expectations      what users judged the model's answers on this task type (live quality from
                            feedback, once quality_feedback.min_judgments requests are judged; the tier's
                            prior PRIOR_QUALITY before that) times the live success rate (reliability);
                            quality thresholds are checked against the same figure, without the success rate
  specialized_capabilities  function calling (half) and context room: the window against twice the need (half)

A model has live figures once it has MIN_CALLS calls in the current window; before that it gets the priors.

Ordering. Task routing is the contract for the first choice: the route's primary (or the request's
preferred model, or an operator's pin) stays first while it is admitted. The matrix orders what
comes after it (switch_to_secondary_model: the same capability class as the primary first, then by
score), orders each degradation tier by score, and spreads load over candidates with equal scores
(fewest calls in flight first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.config import HugaiConfig
from streams.events import LLMRequest
from streams.events.topic_names import JSON_BYTES_PER_FLOAT, MAX_ANSWER_BYTES
from streams.routing.capabilities import Need, lacking, needs_of

__all__ = [
    "Figures", "Ranking", "Constraints", "rank", "estimate_tokens", "violation", "PRIOR_QUALITY", "PRIOR_PERFORMANCE",
    "MIN_CALLS", "Judged", "judged_quality", "prior_quality",
]

PRIOR_QUALITY = {1: 0.95, 2: 0.9, 3: 0.8, 4: 0.7}  # by tier: the seed's thresholds for premium, advanced, standard, local
PRIOR_PERFORMANCE = 0.5  # no data: neither the best nor the worst
MIN_CALLS = 5


@dataclass(frozen=True, slots=True)
class Figures:
    """One model's live numbers over the current window."""

    calls: int = 0
    ok: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    tokens_per_s: float = 0.0

    @classmethod
    def of(cls, raw: Mapping[str, float]) -> Figures:
        return cls(calls=int(raw.get("calls", 0)), ok=int(raw.get("ok", 0)), p50_ms=raw.get("p50_ms", 0.0),
                   p95_ms=raw.get("p95_ms", 0.0), tokens_per_s=raw.get("tokens_per_s", 0.0))

    @property
    def live(self) -> bool:
        return self.calls >= MIN_CALLS


@dataclass(frozen=True, slots=True)
class Judged:
    """Users' feedback on one model for the request's task type: the live quality (0..1) and how many
    requests it rests on (llm.model-quality, computed by the sink from ClickHouse)."""

    quality: float
    judgments: int


@dataclass(frozen=True, slots=True)
class Constraints:
    """The hard limits one request sets, with the environment profile's quality floor as the default."""

    quality_threshold: float | None = None  # from the request: applies to every candidate, degraded or not
    profile_quality: float | None = None  # from HUGAI_ENV's profile: not applied when degrading
    max_cost_usd: float | None = None
    max_latency_ms: float | None = None
    needed_tokens: int = 0
    needs: frozenset[Need] = frozenset()  # tools, images, ... (streams/routing/capabilities.py)
    inputs: int = 0  # an embedding request's texts: a model whose API takes fewer in one call cannot serve it
    dimensions: int | None = None  # the vectors' length an embedding request asks for

    @classmethod
    def of(cls, request: LLMRequest, *, profile_quality: float | None, output_tokens: int) -> Constraints:
        wants = request.performance_requirements
        explicit = [q for q in (request.quality_threshold, wants.min_quality if wants else None) if q is not None]
        return cls(
            quality_threshold=max(explicit) if explicit else None,
            profile_quality=profile_quality,
            max_cost_usd=request.max_cost_per_request,
            max_latency_ms=wants.max_latency * 1000 if wants and wants.max_latency else None,
            needed_tokens=estimate_tokens(request) + output_tokens,
            needs=needs_of(request),
            inputs=len(request.input or ()),
            dimensions=request.dimensions,
        )


@dataclass(frozen=True, slots=True)
class Ranking:
    order: tuple[str, ...]  # what to try, in order
    degrade: tuple[str, ...]  # tried only when every model in `order` is unavailable
    scores: dict[str, float] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    limited: frozenset[str] = frozenset()  # the excluded ones the request's own limits rule out
    # The quality figure each model was scored and checked with, and the judgments it rests on (0: the prior).
    quality: dict[str, tuple[float, int]] = field(default_factory=dict)


# What one image costs in input tokens, about: OpenAI's high-detail 1024x1024 tile count, Anthropic's
# (width x height / 750) for a 1000x750 image, and Gemini's 258 per tile are all near or under it.
IMAGE_TOKENS = 1100


def estimate_tokens(request: LLMRequest) -> int:
    """Input tokens, roughly: 4 characters a token plus a few per message, tool schemas and calls as
    their JSON text, and IMAGE_TOKENS an image. Only for limits and estimates."""
    tokens = 0
    for m in request.chat_messages():
        tokens += len(m.text) // 4 + 4 + len(m.images) * IMAGE_TOKENS
        tokens += sum((len(c.name) + len(c.arguments)) // 4 + 4 for c in m.tool_calls)
    for tool in request.tools:
        tokens += (len(tool.name) + len(tool.description or "") + len(str(tool.parameters))) // 4 + 8
    tokens += sum(len(text) // 4 + 1 for text in request.input or ())
    return tokens


def rank(config: HugaiConfig, candidates: tuple[str, ...], degrade: tuple[str, ...], constraints: Constraints, *,
         estimated_cost: Mapping[str, float], figures: Mapping[str, Figures], unavailable: Mapping[str, str],
         in_flight: Mapping[str, int] | None = None, judged: Mapping[str, Judged] | None = None) -> Ranking:
    """`judged`: live quality from feedback for the request's task type, by model."""
    in_flight = in_flight or {}
    everyone = candidates + degrade
    used = {m: judged_quality(config, m, judged or {}) for m in everyone}
    scores = _scores(config, everyone, constraints, estimated_cost, figures, used)
    excluded: dict[str, str] = {}
    for model in everyone:
        reason = unavailable.get(model) or _violation(config, model, constraints, estimated_cost, figures,
                                                      degrading=model in degrade, used=used[model])
        if reason:
            excluded[model] = reason
    kept = [m for m in candidates if m not in excluded]
    order: list[str] = []
    if kept:
        first, rest = kept[0], kept[1:]
        same_class = config.models[first].capability_class

        def fallback_key(model: str) -> tuple:
            return (config.models[model].capability_class != same_class, -round(scores[model], 6),
                    in_flight.get(model, 0), candidates.index(model))

        order = [first, *sorted(rest, key=fallback_key)]
    tail = sorted((m for m in degrade if m not in excluded),
                  key=lambda m: (config.models[m].tier, -round(scores[m], 6), in_flight.get(m, 0), degrade.index(m)))
    return Ranking(order=tuple(order), degrade=tuple(tail), scores=scores, excluded=excluded,
                   limited=frozenset(m for m in excluded if m not in unavailable), quality=used)


_LOWEST_PRIOR = min(PRIOR_QUALITY.values())
_NO_DATA = Figures()


def prior_quality(config: HugaiConfig, model: str) -> float:
    return PRIOR_QUALITY.get(config.models[model].tier, _LOWEST_PRIOR)


def judged_quality(config: HugaiConfig, model: str, judged: Mapping[str, Judged]) -> tuple[float, int]:
    """The quality figure for `model` and the judgments behind it: users' feedback once enough requests
    are judged (quality_feedback.min_judgments), else the tier's prior (0 judgments)."""
    found = judged.get(model)
    if found is not None and found.judgments >= config.quality_feedback.min_judgments:
        return found.quality, found.judgments
    return prior_quality(config, model), 0


def quality(config: HugaiConfig, model: str, figures: Figures, used: tuple[float, int] | None = None) -> float:
    base = (used or judged_quality(config, model, {}))[0]
    return base * (figures.ok / figures.calls) if figures.live else base


def violation(config: HugaiConfig, model: str, limits: Constraints, estimated_cost: Mapping[str, float],
              judged: Mapping[str, Judged] | None = None) -> str | None:
    """Why the matrix would exclude `model` as a first choice, before any live latency is known."""
    return _violation(config, model, limits, estimated_cost, {}, degrading=False,
                      used=judged_quality(config, model, judged or {}))


def _violation(config: HugaiConfig, model: str, limits: Constraints, estimated_cost: Mapping[str, float],
               figures: Mapping[str, Figures], *, degrading: bool, used: tuple[float, int]) -> str | None:
    spec = config.models[model]
    if missing := lacking(spec, limits.needs):
        return missing
    if spec.max_inputs and limits.inputs > spec.max_inputs:
        return f"takes at most {spec.max_inputs} inputs a call (the request has {limits.inputs})"
    if spec.embeds and limits.inputs:
        size = limits.inputs * (limits.dimensions or spec.embedding_dimensions or 0) * JSON_BYTES_PER_FLOAT
        if size > MAX_ANSWER_BYTES:
            return (f"{limits.inputs} vectors of {limits.dimensions or spec.embedding_dimensions} would be about "
                    f"{size / 2**20:.0f} MiB, over the {MAX_ANSWER_BYTES / 2**20:.0f} MiB answer limit: send fewer texts")
    if spec.context_length and limits.needed_tokens > spec.context_length:
        return f"context window {spec.context_length} tokens < {limits.needed_tokens} needed"
    cost = estimated_cost.get(model, 0.0)
    if limits.max_cost_usd is not None and cost > limits.max_cost_usd:
        return f"estimated cost ${cost:.6f} > max_cost_per_request ${limits.max_cost_usd:.6f}"
    live = figures.get(model, _NO_DATA)
    # Thresholds are about what the model delivers: users' judgment once trusted, else the prior; its
    # current error rate is the breaker's business (excluding on it would also keep the breaker's
    # probe from ever going).
    q, judgments = used
    what = f"live quality {q:.2f} ({judgments} judged)" if judgments else f"quality {q:.2f}"
    if limits.quality_threshold is not None and q < limits.quality_threshold:
        return f"{what} < quality_threshold {limits.quality_threshold:.2f}"
    if not degrading and limits.profile_quality is not None and q < limits.profile_quality:
        return f"{what} < the environment's quality_threshold {limits.profile_quality:.2f}"
    if limits.max_latency_ms is not None and live.live and live.p95_ms > limits.max_latency_ms:
        return f"p95 latency {live.p95_ms:.0f} ms > max_latency {limits.max_latency_ms:.0f} ms"
    return None


def _scores(config: HugaiConfig, models: tuple[str, ...], limits: Constraints, estimated_cost: Mapping[str, float],
            figures: Mapping[str, Figures], used: Mapping[str, tuple[float, int]]) -> dict[str, float]:
    weights = config.selection_criteria.weights()
    dearest = max((estimated_cost.get(m, 0.0) for m in models), default=0.0)
    live = {m: figures[m] for m in models if m in figures and figures[m].live}
    best_p50 = min((f.p50_ms for f in live.values() if f.p50_ms > 0), default=0.0)
    best_p95 = min((f.p95_ms for f in live.values() if f.p95_ms > 0), default=0.0)
    best_tps = max((f.tokens_per_s for f in live.values()), default=0.0)
    scores = {}
    for model in models:
        spec = config.models[model]
        cost = 1.0 - estimated_cost.get(model, 0.0) / dearest if dearest > 0 else 1.0
        f = live.get(model)
        if f is None:
            performance = PRIOR_PERFORMANCE
        else:
            latency = (_ratio(best_p50, f.p50_ms) + _ratio(best_p95, f.p95_ms)) / 2
            performance = 0.75 * latency + 0.25 * (f.tokens_per_s / best_tps if best_tps > 0 else 1.0)
        room = 1.0 if not limits.needed_tokens else min(1.0, (spec.context_length or 0) / (2 * limits.needed_tokens))
        # Function calling weighs in for every request (the seed's factor); a request that needs it
        # has already excluded the models without it.
        capabilities = 0.5 * spec.function_calling + 0.5 * room
        scores[model] = round(weights["cost_sensitivity"] * cost + weights["performance_requirements"] * performance
                              + weights["quality_expectations"] * quality(config, model, f or _NO_DATA, used[model])
                              + weights["specialized_capabilities"] * capabilities, 6)
    return scores


def _ratio(best: float, value: float) -> float:
    return best / value if value > 0 and best > 0 else 1.0
