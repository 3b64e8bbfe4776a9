"""Client-side rate limits per provider: requests and tokens per minute, as token buckets.

Pure: the caller passes the time in. The router asks `wait_for(tokens, now)`: 0 means the call
fits now; otherwise the seconds until it would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TokenBucket", "RateLimiter"]


@dataclass
class TokenBucket:
    capacity: float
    refill_per_second: float
    level: float = field(default=-1.0)
    updated: float = 0.0

    def __post_init__(self) -> None:
        if self.capacity <= 0 or self.refill_per_second <= 0:
            raise ValueError("a bucket needs a positive capacity and refill rate")
        if self.level < 0:
            self.level = self.capacity

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.refill_per_second)
            self.updated = now

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until `amount` fits (0 if it fits now). An amount over capacity never fits: inf."""
        if amount > self.capacity:
            return float("inf")
        self._refill(now)
        missing = amount - self.level
        return 0.0 if missing <= 0 else missing / self.refill_per_second

    def take(self, amount: float, now: float) -> bool:
        if self.wait_for(amount, now) > 0:
            return False
        self.level -= amount
        return True


class RateLimiter:
    """The seed's per-provider limits: requests/minute and tokens/minute."""

    def __init__(self, *, requests_per_minute: int, tokens_per_minute: int, start: float = 0.0):
        self.requests = TokenBucket(requests_per_minute, requests_per_minute / 60, updated=start)
        self.tokens = TokenBucket(tokens_per_minute, tokens_per_minute / 60, updated=start)

    def wait_for(self, tokens: int, now: float) -> float:
        """Would a call of `tokens` fit now? 0 if so, else seconds until it would."""
        return max(self.requests.wait_for(1, now), self.tokens.wait_for(tokens, now))

    def acquire(self, tokens: int, now: float) -> bool:
        """Take one request and `tokens` if both fit now; take nothing otherwise."""
        if self.wait_for(tokens, now) > 0:
            return False
        self.requests.take(1, now)
        self.tokens.take(tokens, now)
        return True
