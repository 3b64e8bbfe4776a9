"""use_cheaper_models_for_simple_tasks: the seed's select_model_by_cost_efficiency, generalized. Pure.

The seed: simple tasks with quality_threshold <= 0.8 go to gpt-3.5-turbo, moderate ones with
<= 0.9 to claude-3-haiku, everything else to a premium model. Read as a rule: a tier's quality
depends on how demanding the task is (a standard model does a simple task well), and the
cheapest model whose quality for this complexity meets the threshold wins. Complex tasks are
left to the route.

The profile's cost_optimization says how far this goes: quality_first never, balanced for simple
tasks, aggressive for simple and moderate ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from streams.config import HugaiConfig

__all__ = ["QUALITY_FOR", "cheapest_fit", "applies"]

# complexity -> tier -> the quality that tier delivers on such tasks
QUALITY_FOR = {
    "simple": {1: 0.98, 2: 0.95, 3: 0.85, 4: 0.75},
    "moderate": {1: 0.96, 2: 0.93, 3: 0.9, 4: 0.7},
}
_REACH = {"quality_first": (), "balanced": ("simple",), "aggressive": ("simple", "moderate")}


def applies(config: HugaiConfig, complexity: str, cost_optimization: str | None) -> bool:
    if "use_cheaper_models_for_simple_tasks" not in config.cost_controls.cost_optimization_strategies:
        return False
    reach = _REACH.get(cost_optimization or "balanced", ())
    return complexity in reach


def cheapest_fit(config: HugaiConfig, complexity: str, quality_threshold: float, *,
                 estimated_cost: Mapping[str, float], available: Iterable[str]) -> str | None:
    """The cheapest available model whose tier meets `quality_threshold` on tasks of this complexity."""
    qualities = QUALITY_FOR.get(complexity)
    if qualities is None:
        return None
    fits = [m for m in available if qualities.get(config.models[m].tier, 0.0) >= quality_threshold]
    if not fits:
        return None
    # Ties go to the better tier, then to the name, so the choice is stable.
    return min(fits, key=lambda m: (estimated_cost.get(m, 0.0), config.models[m].tier, m))
