"""Pieces of an answer that serve.py builds: cached copies, "nothing left" errors, timings."""

from __future__ import annotations

import time
from collections.abc import Set as AbstractSet

from providers import ChatResult
from streams.agents.streaming import DeltaRelay
from streams.events import ErrorInfo, LLMResponse

__all__ = ["cached", "nothing_left", "ttft_ms", "ms_since"]


def cached(response: LLMResponse) -> dict:
    """What a later identical request is answered with: the answer, never the original's cost or timing."""
    answer = {"model": response.model, "provider": response.provider, "content": response.content,
              "usage": response.usage.model_dump(), "simulated": response.simulated,
              "tool_calls": [c.model_dump() for c in response.tool_calls], "finish_reason": response.finish_reason}
    if response.embeddings:
        answer["embeddings"] = response.embeddings
    return answer


def nothing_left(excluded: dict[str, str], *, limited: AbstractSet[str] = frozenset(),
                  rate_limited: AbstractSet[str] = frozenset()) -> ErrorInfo:
    """Why nothing served: the request's own limits (no_model_fits), rate limits (rate_limited), or
    models that are down or switched off (no_model_available)."""
    reasons = "; ".join(f"{m}: {r}" for m, r in excluded.items()) or "no candidates"
    kinds = {"limits" if m in limited else "rate" if m in rate_limited else "down" for m in excluded}
    if kinds == {"limits"}:
        return ErrorInfo(code="no_model_fits", message=f"no model can serve this request as asked: {reasons}")
    if "rate" in kinds and "down" not in kinds:
        return ErrorInfo(code="rate_limited", message=f"every candidate is at its rate limit: {reasons}")
    return ErrorInfo(code="no_model_available", message=f"every candidate is unavailable: {reasons}")


def ttft_ms(result: ChatResult, relay: DeltaRelay | None, started: float) -> float:
    """A stream's: from the request reaching this worker to its first piece reaching it. Otherwise the call's."""
    if relay is not None and relay.first_at is not None:
        return round((relay.first_at - started) * 1000, 3)
    return round(result.ttft_ms, 3)


def ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
