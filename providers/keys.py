"""API keys as sources, not strings: an adapter asks for the current key on every call,
so a rotated key takes effect without a restart. A plain string is a source that never changes."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["KeySource", "key_source"]

KeySource = Callable[[], "str | None"]


def key_source(api_key: str | None | KeySource) -> KeySource:
    if callable(api_key):
        return api_key
    return lambda: api_key
