"""Which models a request should try, in order: task routing, agent mapping, request overrides.

Precedence, highest first:
  1. the request's preferred_model (then its fallback_models, else the task's fallbacks)
  2. agent_model_mapping[agent_context].primary (then the task's fallbacks)
  3. routing_strategy[task_type]: primary, then fallback
Group names such as "local-models" expand to their members.

Then degradation (fallback_configuration's degrade_gracefully): when every candidate is
unavailable, the models of cascading_fallback_chain, tier by tier, that were not candidates.
A request that names its own preferred_model and fallback_models is not degraded: it asked
for exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.config import HugaiConfig
from streams.events import LLMRequest

__all__ = ["RouteDecision", "RoutingError", "plan_route", "DEFAULT_TASK_TYPE"]

# For callers that give no task hint (the seed's batch example; "auto" over HTTP): its first, most general route.
DEFAULT_TASK_TYPE = "complex_reasoning"


class RoutingError(ValueError):
    """The request names something the config does not know. `code` goes into the response."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class RouteDecision:
    candidates: tuple[str, ...]
    reason: str  # "preferred_model" | "agent_model_mapping" | "routing_strategy"
    degrade: tuple[str, ...] = ()  # tried, in order, only when every candidate is unavailable

    @property
    def primary(self) -> str:
        return self.candidates[0]


def plan_route(config: HugaiConfig, request: LLMRequest) -> RouteDecision:
    rule = config.routing_strategy.get(request.task_type)
    task_fallbacks = list(rule.fallback) if rule else []
    assignment = config.agent_model_mapping.get(request.agent_context or "")

    if request.preferred_model:
        first, rest, reason = request.preferred_model, request.fallback_models or task_fallbacks, "preferred_model"
    elif assignment:
        first, rest, reason = assignment.primary, request.fallback_models or task_fallbacks, "agent_model_mapping"
    elif rule:
        first, rest, reason = rule.primary, request.fallback_models or task_fallbacks, "routing_strategy"
    else:
        known = ", ".join(sorted(config.routing_strategy))
        raise RoutingError("unknown_task_type", f"unknown task_type {request.task_type!r}; known: {known}")

    candidates: list[str] = []
    for name in (first, *rest):
        if name not in config.models and name not in config.model_groups:
            raise RoutingError("unknown_model", f"unknown model {name!r}")
        for model in config.expand(name):
            if model not in candidates:
                candidates.append(model)
    pinned = request.preferred_model is not None and bool(request.fallback_models)
    return RouteDecision(candidates=tuple(candidates), reason=reason,
                         degrade=() if pinned or not _degrades(config) else _degradation(config, candidates))


def _degrades(config: HugaiConfig) -> bool:
    return any(a.action == "degrade_gracefully" for a in config.fallback_configuration.primary_failure_handling)


def _degradation(config: HugaiConfig, candidates: list[str]) -> tuple[str, ...]:
    chain = config.fallback_configuration.cascading_fallback_chain
    tail: list[str] = []
    for tier in sorted(chain, key=lambda name: int(name.removeprefix("tier_"))):
        for name in chain[tier]:
            for model in config.expand(name):
                if model not in candidates and model not in tail:
                    tail.append(model)
    return tuple(tail)
