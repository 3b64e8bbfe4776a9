"""What one worker knows of the cluster: breakers and live figures per model, users' judgment of each
model per task type, and operators' overrides.

Filled by the broadcast reader (llm.model-health, llm.model-quality and llm.control) on a worker; in
tests and single-process use it starts empty and the breakers are local.
"""

from __future__ import annotations

from streams.agents.breakers import Breakers, ClusterBreakers
from streams.events import ControlCommand, ModelHealth, ModelQuality
from streams.routing.overrides import Overrides, apply_command
from streams.routing.scoring import Figures, Judged

__all__ = ["ClusterState"]


class ClusterState:
    def __init__(self, breakers: Breakers):
        self.breakers = breakers
        self.overrides = Overrides()
        self.commands_applied = 0
        self._judged: dict[str, dict[str, Judged]] = {}  # task type -> model -> live quality

    def apply_quality(self, figure: ModelQuality) -> None:
        self._judged.setdefault(figure.task_type, {})[figure.model] = Judged(figure.quality, figure.judgments)

    def judged(self, task_type: str) -> dict[str, Judged]:
        """Live quality by model for `task_type`, as last broadcast (not a copy: read, never change it)."""
        return self._judged.get(task_type, {})

    def describe_quality(self) -> dict[str, dict[str, dict[str, float]]]:
        return {task: {model: {"quality": j.quality, "judgments": j.judgments} for model, j in models.items()}
                for task, models in self._judged.items()}

    def figures(self) -> dict[str, Figures]:
        """The live figures per model, as last broadcast (not a copy: read, never change it)."""
        if isinstance(self.breakers, ClusterBreakers):
            return self.breakers.figures
        return {}

    def apply_health(self, health: ModelHealth) -> None:
        if isinstance(self.breakers, ClusterBreakers):
            self.breakers.apply(health)

    def apply_control(self, command: ControlCommand) -> None:
        self.overrides = apply_command(self.overrides, command.action, command.target, command.model)
        self.commands_applied += 1

    def forced_closed(self, model: str) -> bool:
        return self.overrides.forced_breakers.get(model) == "closed"
