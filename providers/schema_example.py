"""A deterministic value that fits a JSON schema: what the simulated provider answers a tool call or a
structured-output request with, so a demo's agent loop runs its tools with arguments they accept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["example_of"]

_MAX_DEPTH = 8


def example_of(schema: Mapping[str, Any] | None, *, depth: int = 0) -> Any:
    """The first enum value or const, else a plain value of the schema's type; objects fill every
    property (required ones at least), arrays hold one item. Unknown or recursive shapes give null."""
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if schema.get(combinator):
            return example_of(schema[combinator][0], depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        return {name: example_of(sub, depth=depth + 1) for name, sub in properties.items()}
    if kind == "array":
        return [example_of(schema.get("items") or {}, depth=depth + 1)] if schema.get("items") else []
    if kind == "string":
        return "example"
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    return None
