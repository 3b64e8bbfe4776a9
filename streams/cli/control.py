"""`hugai-llm control ...` and `hugai-llm approvals ...`: human control over the routers.

Commands go on llm.control, decisions on llm.approvals; every worker applies them, and the sink
files them in ClickHouse's control_audit (who, when, why).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import uuid
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer
from aiokafka.errors import KafkaError
from rich.table import Table

from streams.cli.output import config_or_fail, console, fail, read_settings
from streams.config import PROVIDER_FAMILIES

__all__ = ["control_app", "approvals_app"]

control_app = typer.Typer(help="Operators' commands, applied by every worker and audited.", no_args_is_help=True)
approvals_app = typer.Typer(help="The approval queue for critical requests.", no_args_is_help=True)

Reason = Annotated[str, typer.Option("--reason", help="Why: kept in the audit trail.", show_default=False)]
Actor = Annotated[Optional[str], typer.Option("--actor", help="Who; default: the login name.")]


def _bootstrap() -> str:
    return read_settings().kafka_bootstrap_servers or "127.0.0.1:9092"


def _run(coroutine):  # noqa: ANN001, ANN202
    try:
        return asyncio.run(coroutine)
    except (KafkaError, OSError) as exc:
        raise fail(f"cannot reach Kafka at {_bootstrap()}: {type(exc).__name__}: {exc}", code=1) from None


def _command(action: str, target: str, reason: str, actor: str | None, model: str | None = None) -> None:
    from streams.events import ControlCommand
    from streams.events.topic_names import CONTROL
    from streams.kafka.state_io import publish

    if not reason.strip():
        raise fail("--reason must say why")
    command = ControlCommand(event_id=uuid.uuid4().hex, actor=actor or getpass.getuser(), reason=reason,
                             action=action, target=target, model=model)
    _run(publish(_bootstrap(), CONTROL, command.key, command.to_bytes()))
    console.print(f"{action} {target}{' -> ' + model if model else ''}: published to {CONTROL}", highlight=False)


def _known_model(name: str) -> str:
    config = config_or_fail(read_settings())
    if name not in config.models:
        raise fail(f"unknown model {name!r}; known: {', '.join(sorted(config.models))}")
    return name


@control_app.command("breaker")
def control_breaker(model: str, state: Annotated[str, typer.Argument(help="open | closed | auto")], reason: Reason,
                    actor: Actor = None) -> None:
    """Force a model's breaker open or closed, or hand it back to the keeper (auto)."""
    if state not in ("open", "closed", "auto"):
        raise fail(f"state must be open, closed or auto, not {state!r}")
    _command(f"breaker_{state}", _known_model(model), reason, actor)


@control_app.command("model")
def control_model(model: str, switch: Annotated[str, typer.Argument(help="disable | enable")], reason: Reason,
                  actor: Actor = None) -> None:
    """Take a model out of routing, or put it back."""
    if switch not in ("disable", "enable"):
        raise fail(f"expected disable or enable, not {switch!r}")
    _command(f"{switch}_model", _known_model(model), reason, actor)


@control_app.command("provider")
def control_provider(provider: str, switch: Annotated[str, typer.Argument(help="disable | enable")], reason: Reason,
                     actor: Actor = None) -> None:
    """Take every model of a provider family out of routing, or put them back."""
    if switch not in ("disable", "enable"):
        raise fail(f"expected disable or enable, not {switch!r}")
    if provider not in PROVIDER_FAMILIES:
        raise fail(f"unknown provider {provider!r}; known: {', '.join(PROVIDER_FAMILIES)}")
    _command(f"{switch}_provider", provider, reason, actor)


@control_app.command("pin")
def control_pin(task_type: str, model: str, reason: Reason, actor: Actor = None) -> None:
    """Send every request of a task type to one model first (its route's models stay as fallbacks)."""
    config = config_or_fail(read_settings())
    if task_type not in config.routing_strategy:
        raise fail(f"unknown task type {task_type!r}; known: {', '.join(sorted(config.routing_strategy))}")
    _command("pin_task", task_type, reason, actor, model=_known_model(model))


@control_app.command("unpin")
def control_unpin(task_type: str, reason: Reason, actor: Actor = None) -> None:
    """Remove a task type's pin."""
    _command("unpin_task", task_type, reason, actor)


@control_app.command("show")
def control_show() -> None:
    """What the operators' commands add up to now, as every worker applies them."""
    from streams.events import ControlCommand
    from streams.events.topic_names import CONTROL
    from streams.kafka.state_io import read_all
    from streams.routing.overrides import Overrides, apply_command

    overrides = Overrides()
    for _, value in _run(read_all(_bootstrap(), CONTROL)):
        if value:
            command = ControlCommand.model_validate_json(value)
            overrides = apply_command(overrides, command.action, command.target, command.model)
    console.print_json(json.dumps({
        "forced_breakers": overrides.forced_breakers, "disabled_models": sorted(overrides.disabled_models),
        "disabled_providers": sorted(overrides.disabled_providers), "pins": overrides.pins}))


def _queue() -> dict[str, dict]:
    """request_id -> {"requested": ApprovalRequested, "decided": ApprovalDecided | None}"""
    from streams.events import ApprovalDecided, ApprovalRequested
    from streams.events.topic_names import APPROVALS
    from streams.kafka.state_io import read_all

    queue: dict[str, dict] = {}
    for _, value in _run(read_all(_bootstrap(), APPROVALS)):
        if not value:
            continue
        if b'"approval_decided"' in value:
            decision = ApprovalDecided.model_validate_json(value)
            queue.setdefault(decision.request_id, {"requested": None, "decided": None})
            queue[decision.request_id]["decided"] = queue[decision.request_id]["decided"] or decision
        else:
            request = ApprovalRequested.model_validate_json(value)
            queue.setdefault(request.request_id, {"requested": None, "decided": None})["requested"] = request
    return queue


@approvals_app.command("list")
def approvals_list(
    all_: Annotated[bool, typer.Option("--all", help="Decided ones too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Requests waiting for an operator (with --all, decided ones too)."""
    now = datetime.now(timezone.utc)
    rows = [(rid, e["requested"], e["decided"]) for rid, e in _queue().items()
            if e["requested"] and (all_ or e["decided"] is None)]
    if as_json:
        for rid, requested, decided in rows:
            print(json.dumps({**json.loads(requested.to_bytes()), "decided": json.loads(decided.to_bytes()) if decided else None}))
        return
    table = Table("request_id", "task_type", "model", "est. cost", "tenant", "expires in", "decision")
    for rid, requested, decided in rows:
        left = (requested.expires_at - now).total_seconds()
        verdict = "waiting" if decided is None else f"{'approved' if decided.approved else 'rejected'} by {decided.actor}"
        table.add_row(rid, requested.task_type, requested.model, f"${requested.estimated_cost_usd:.4f}", requested.tenant,
                      f"{max(0, left):.0f} s", verdict)
    console.print(table)
    if not rows:
        console.print("nothing waiting for approval")


def _decide(request_id: str, approved: bool, reason: str, actor: str | None) -> None:
    from streams.events import ApprovalDecided
    from streams.events.topic_names import APPROVALS
    from streams.kafka.state_io import publish

    entry = _queue().get(request_id)
    if entry is None or entry["requested"] is None:
        raise fail(f"no request {request_id!r} is waiting for approval (see `hugai-llm approvals list`)")
    if entry["decided"] is not None:
        decided = entry["decided"]
        raise fail(f"{request_id} was already {'approved' if decided.approved else 'rejected'} by {decided.actor}")
    if not reason.strip():
        raise fail("--reason must say why")
    decision = ApprovalDecided(event_id=uuid.uuid4().hex, request_id=request_id, approved=approved,
                               actor=actor or getpass.getuser(), reason=reason)
    _run(publish(_bootstrap(), APPROVALS, request_id, decision.to_bytes()))
    console.print(f"{request_id} {'approved' if approved else 'rejected'}", highlight=False)


@approvals_app.command("approve")
def approvals_approve(request_id: str, reason: Reason, actor: Actor = None) -> None:
    """Let a waiting request go ahead."""
    _decide(request_id, True, reason, actor)


@approvals_app.command("reject")
def approvals_reject(request_id: str, reason: Reason, actor: Actor = None) -> None:
    """Refuse a waiting request: it is answered `rejected` with code approval_rejected."""
    _decide(request_id, False, reason, actor)
