"""The retry delay schedule of fallback_configuration's retry_with_exponential_backoff. Pure.

delay(n) = min(max_delay, initial_delay * 2**(n-1)), scaled by a jitter factor in [0.5, 1.0)
so workers that failed together do not retry together. A provider's Retry-After wins over
the schedule, capped at max_delay.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BackoffPolicy", "retry_delay"]


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    max_attempts: int = 3
    initial_delay_s: float = 1.0
    max_delay_s: float = 60.0


def retry_delay(policy: BackoffPolicy, failed_attempt: int, *, retry_after: float | None, jitter: float) -> float:
    """Seconds to wait after the `failed_attempt`-th attempt (1-based). `jitter` is a random number in [0, 1)."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), policy.max_delay_s)
    base = min(policy.max_delay_s, policy.initial_delay_s * 2 ** (failed_attempt - 1))
    return base * (0.5 + jitter / 2)
