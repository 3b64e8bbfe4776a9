"""Planning one request: its route, the models the cluster can use now, and the decision matrix's order.

Pure but for what it is given: the config, the environment's profile, the cluster's state and a clock
reading. The request server plans every request with it; `hugai-llm replay` plans recorded requests
with a candidate config and no provider call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from streams.agents.cluster_state import ClusterState
from streams.config import HugaiConfig
from streams.config.schema import EnvironmentProfile
from streams.events import LLMRequest
from streams.routing import plan_route
from streams.routing.breaker import limited_for
from streams.routing.cost_efficiency import applies, cheapest_fit
from streams.routing.scoring import Constraints, Ranking, estimate_tokens, rank, violation

__all__ = ["DEFAULT_OUTPUT_TOKENS", "Plan", "plan_request"]

# Output tokens assumed for a request without max_tokens, for estimates and limits.
DEFAULT_OUTPUT_TOKENS = 256


@dataclass(frozen=True, slots=True)
class Plan:
    ranking: Ranking
    reason: str  # routing_strategy | agent_model_mapping | preferred_model | operator_pin | cost_efficiency
    tokens: int  # estimated input + output tokens, for the rate limits
    estimated_cost: dict[str, float]
    rate_limited: frozenset[str] = frozenset()  # skipped: their provider asked for a wait that has not ended


def plan_request(config: HugaiConfig, profile: EnvironmentProfile | None, state: ClusterState, request: LLMRequest, *,
                 now: float, estimate: Callable[[str, int, int], float],
                 in_flight: Mapping[str, int] | None = None) -> Plan:
    """Route, then the matrix: the order to try, with scores and exclusions. Raises RoutingError.

    `state`: what the cluster knows now (breakers, live figures and quality, overrides); `now`: epoch
    seconds, for rate limits; `estimate(model, input_tokens, output_tokens)`: a call's cost."""
    overrides = state.overrides
    route = plan_route(config, request)
    candidates, reason = route.candidates, route.reason
    pinned = overrides.pins.get(request.task_type)
    if pinned in config.models and request.preferred_model is None:
        candidates, reason = (pinned, *(c for c in candidates if c != pinned)), "operator_pin"
    input_tokens = estimate_tokens(request)
    # An embedding has no output tokens: its price and the context it needs are its input's.
    output_tokens = 0 if request.input is not None else request.max_tokens or DEFAULT_OUTPUT_TOKENS
    complexity = str(request.metadata.get("complexity") or config.task_complexity.get(request.task_type, "complex"))
    unavailable = {m: why for m, s in config.models.items() if (why := overrides.unavailable(m, s.provider))}
    waits: dict[str, float] = {}
    for m, spec in config.models.items():  # what the providers told the cluster, one look per model
        if m in unavailable:
            continue
        marks = state.breakers.state(m)
        if (wait := limited_for(marks, now)) > 0:
            waits[m] = wait
            unavailable[m] = f"rate limited by its provider for {wait:.0f} s more"
        elif marks.missing_since is not None:
            unavailable[m] = f"its provider does not serve {spec.api_model}"
    estimated = {m: estimate(m, input_tokens, output_tokens) for m in config.models}
    judged = state.judged(request.task_type)
    constraints = Constraints.of(request, profile_quality=profile.quality_threshold if profile else None,
                                 output_tokens=output_tokens)
    if reason != "operator_pin" and request.preferred_model is None and applies(
            config, complexity, profile.cost_optimization if profile else None):
        threshold = request.quality_threshold or (profile.quality_threshold if profile else 0.0)
        open_now = {m for m in config.models if state.breakers.state(m).state != "closed"}
        # Only a model the matrix would admit: a cheap pick it then excludes (a capability the
        # request needs, the profile's quality floor) would leave cost_efficiency naming a route it
        # did not choose.
        admitted = [m for m in config.models if m not in unavailable and m not in open_now
                    and violation(config, m, constraints, estimated, judged) is None]
        cheap = cheapest_fit(config, complexity, threshold, estimated_cost=estimated, available=admitted)
        if cheap is not None:
            candidates, reason = (cheap, *(c for c in candidates if c != cheap)), "cost_efficiency"
    # Degradation stays with models of the request's kind: an embedding never degrades to a chat model.
    embedding = request.input is not None
    degrade = tuple(m for m in route.degrade if m not in candidates and config.models[m].embeds == embedding)
    ranking = rank(config, candidates, degrade, constraints,
                   estimated_cost=estimated, figures=state.figures(), unavailable=unavailable,
                   in_flight=in_flight, judged=judged)
    return Plan(ranking=ranking, reason=reason, tokens=input_tokens + output_tokens,
                estimated_cost={m: estimated[m] for m in ranking.order + ranking.degrade},
                rate_limited=frozenset(waits))
