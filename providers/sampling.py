"""stop, seed and top_p under each family's own names (what it cannot take is routed away, never dropped)."""

from __future__ import annotations

from providers.types import ChatRequest

__all__ = ["sampling_fields"]


def sampling_fields(request: ChatRequest, *, stop: str, top_p: str, seed: str | None = "seed") -> dict:
    """The request's stop sequences, seed and top_p under the names `stop`, `seed` and `top_p` give.
    `seed=None`: the family takes no seed (routing keeps seeded requests off it)."""
    fields: dict = {}
    if request.stop:
        fields[stop] = list(request.stop)
    if seed is not None and request.seed is not None:
        fields[seed] = request.seed
    if request.top_p is not None:
        fields[top_p] = request.top_p
    return fields
