"""What operators send (commands on llm.control, approval decisions on llm.approvals) and what asks them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from streams.events.base import Event, utcnow

__all__ = ["CONTROL_ACTIONS", "ControlCommand", "ApprovalRequested", "ApprovalDecided"]


CONTROL_ACTIONS = (
    "breaker_open", "breaker_closed", "breaker_auto",  # target: a model
    "disable_model", "enable_model",  # target: a model
    "disable_provider", "enable_provider",  # target: a provider family
    "pin_task", "unpin_task",  # target: a task type; pin_task names the model
)


class ControlCommand(Event):
    """On llm.control, keyed by "<kind>:<target>": an operator's command. Every worker applies it;
    the sink files it in control_audit (who, when, why)."""

    event_type: Literal["control_command"] = "control_command"
    event_id: str
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    action: Literal[CONTROL_ACTIONS]  # type: ignore[valid-type]
    target: str = Field(min_length=1)
    model: str | None = None

    @model_validator(mode="after")
    def _pin_names_a_model(self) -> ControlCommand:
        if (self.action == "pin_task") != (self.model is not None):
            raise ValueError("pin_task needs a model, and only pin_task takes one")
        return self

    @property
    def key(self) -> str:
        """Later commands on the same thing replace earlier ones: the compacted topic keeps the last."""
        scope = self.action.split("_", 1)[1] if self.action.startswith(("disable", "enable")) else self.action.split("_")[0]
        return f"{scope}:{self.target}"


class ApprovalRequested(Event):
    """On llm.approvals, keyed by request_id: a critical request waits for an operator. Metadata only."""

    event_type: Literal["approval_requested"] = "approval_requested"
    request_id: str
    at: datetime = Field(default_factory=utcnow)
    task_type: str
    model: str
    estimated_cost_usd: float
    tenant: str = ""
    expires_at: datetime


class ApprovalDecided(Event):
    """On llm.approvals, keyed by request_id: approved or rejected, by whom and why (timeouts reject)."""

    event_type: Literal["approval_decided"] = "approval_decided"
    event_id: str
    request_id: str
    at: datetime = Field(default_factory=utcnow)
    approved: bool
    actor: str = Field(min_length=1)
    reason: str = Field(min_length=1)
