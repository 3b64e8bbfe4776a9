"""Loading a config file: `load_config(path)` is the only entry point.

Anything wrong raises `ConfigError`, whose message names each bad key as a dotted path
(`routing_strategy.code_generation.fallback[2]`) with the reason. The schema checks each block;
this module then checks what blocks say of each other, and what the compliance requirements forbid.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import ValidationError

from streams.config.compliance import compliance_problems
from streams.config.schema import DEFAULT_CONFIG_PATH, PROVIDER_FAMILIES, ConfigError, HugaiConfig

__all__ = ["load_config", "parse_config"]


def load_config(path: str | Path | None = None) -> HugaiConfig:
    """Read and validate a config file; raise ConfigError naming every bad key."""
    source = Path(path) if path else DEFAULT_CONFIG_PATH
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(source), [f"cannot read file: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(source), [f"not valid YAML: {exc}"]) from None
    return parse_config(raw, source=str(source))


def parse_config(raw: object, *, source: str = "<config>") -> HugaiConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, ["top level: expected a mapping of blocks"])
    try:
        config = HugaiConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(err) for err in exc.errors()]) from None
    problems = list(_cross_reference_problems(config))
    if problems:
        raise ConfigError(source, problems)
    return config


def _describe(err: dict) -> str:
    path = ""
    for part in err["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    reason = err["msg"]
    if err["type"] == "missing":
        reason = "required block or key is missing"
    elif err["type"] == "extra_forbidden":
        reason = "unknown key"
    return f"{path or 'top level'}: {reason}"


def _cross_reference_problems(config: HugaiConfig) -> Iterator[str]:
    known = set(config.models) | set(config.model_groups)

    def check(path: str, name: str) -> Iterator[str]:
        if name not in known:
            yield f"{path}: unknown model {name!r} (not in models or model_groups)"

    for group, members in config.model_groups.items():
        for i, member in enumerate(members):
            if member not in config.models:
                yield f"model_groups.{group}[{i}]: unknown model {member!r}"
    for task, rule in config.routing_strategy.items():
        yield from check(f"routing_strategy.{task}.primary", rule.primary)
        for i, name in enumerate(rule.fallback):
            yield from check(f"routing_strategy.{task}.fallback[{i}]", name)
    for agent, assignment in config.agent_model_mapping.items():
        yield from check(f"agent_model_mapping.{agent}.primary", assignment.primary)
    for tier, names in config.fallback_configuration.cascading_fallback_chain.items():
        for i, name in enumerate(names):
            yield from check(f"fallback_configuration.cascading_fallback_chain.{tier}[{i}]", name)

    for i, task in enumerate(config.human_oversight.critical_task_types):
        if task not in config.routing_strategy:
            yield f"human_oversight.critical_task_types[{i}]: unknown task type {task!r}"
    for task in config.task_complexity:
        if task not in config.routing_strategy:
            yield f"task_complexity.{task}: unknown task type"

    total = sum(config.selection_criteria.weights().values())
    if not math.isclose(total, 1.0, abs_tol=1e-9):
        yield f"selection_criteria: weights must sum to 1, they sum to {total:g}"

    controls = config.cost_controls
    for block, names in (
        ("cost_controls.daily_budgets", controls.daily_budgets),
        ("cost_controls.monthly_limits.provider_caps", controls.monthly_limits.provider_caps),
    ):
        for name in names:
            if name not in PROVIDER_FAMILIES:
                yield f"{block}.{name}: unknown provider (expected one of {', '.join(PROVIDER_FAMILIES)})"

    yield from compliance_problems(config)
