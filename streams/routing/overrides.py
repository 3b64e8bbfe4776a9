"""What operators have commanded on llm.control, folded into one value. Pure.

Commands on the same thing replace each other (a later enable undoes a disable; breaker_auto
hands the breaker back to the keeper; unpin_task removes a pin).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

__all__ = ["Overrides", "apply_command"]


@dataclass(frozen=True, slots=True)
class Overrides:
    forced_breakers: dict[str, Literal["open", "closed"]] = field(default_factory=dict)
    disabled_models: frozenset[str] = frozenset()
    disabled_providers: frozenset[str] = frozenset()
    pins: dict[str, str] = field(default_factory=dict)  # task type -> model

    def unavailable(self, model: str, provider: str) -> str | None:
        """Why an operator has taken this model out of routing, or None."""
        if model in self.disabled_models:
            return "disabled by an operator"
        if provider in self.disabled_providers:
            return f"provider {provider} disabled by an operator"
        if self.forced_breakers.get(model) == "open":
            return "circuit breaker forced open by an operator"
        return None


def apply_command(overrides: Overrides, action: str, target: str, model: str | None = None) -> Overrides:
    if action in ("breaker_open", "breaker_closed"):
        forced = {**overrides.forced_breakers, target: action.removeprefix("breaker_")}
        return replace(overrides, forced_breakers=forced)
    if action == "breaker_auto":
        return replace(overrides, forced_breakers={m: s for m, s in overrides.forced_breakers.items() if m != target})
    if action == "disable_model":
        return replace(overrides, disabled_models=overrides.disabled_models | {target})
    if action == "enable_model":
        return replace(overrides, disabled_models=overrides.disabled_models - {target})
    if action == "disable_provider":
        return replace(overrides, disabled_providers=overrides.disabled_providers | {target})
    if action == "enable_provider":
        return replace(overrides, disabled_providers=overrides.disabled_providers - {target})
    if action == "pin_task":
        assert model is not None
        return replace(overrides, pins={**overrides.pins, target: model})
    if action == "unpin_task":
        return replace(overrides, pins={t: m for t, m in overrides.pins.items() if t != target})
    raise ValueError(f"unknown control action {action!r}")
