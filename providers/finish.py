"""Finish reasons: each family's own word, normalized to stop, length, tool_calls or content_filter."""

from __future__ import annotations

from collections.abc import Mapping

from providers.types import FinishReason

__all__ = ["normalized"]


def normalized(word: str | None, table: Mapping[str, FinishReason], *, tool_calls: bool) -> FinishReason | None:
    """The family's `word` by its `table`. A word the table does not know ends normally ("stop"); an
    answer that carries tool calls ended to have them run, whatever word the family used (Gemini says
    STOP, Cohere TOOL_CALL, Anthropic tool_use)."""
    if word is None:
        return "tool_calls" if tool_calls else None
    reason = table.get(word, "stop")
    return "tool_calls" if tool_calls and reason == "stop" else reason
