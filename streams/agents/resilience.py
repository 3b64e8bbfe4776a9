"""Calls to one model with retries (tenacity, on the seed's backoff schedule) behind its circuit breaker.

The breakers are a `Breakers` board: kept in this process, or cluster-wide (see breakers.py).
Only retryable provider errors are retried. A fatal error means the provider answered (the
request was at fault), so it counts as a success for the breaker and is never retried.
An operator's forced-closed breaker is not consulted at all.

A rate limit whose Retry-After is longer than `reroute_after_s` is not waited for: the model is
marked limited until then for the whole cluster (Breakers.limit) and the call ends in RateLimitedAway,
so the request moves on to its next candidate at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from providers import ChatResult, FatalError, ProviderError, RateLimited, RetryableError
from providers.ratelimit import RateLimiter
from streams.agents.breakers import Breakers
from streams.agents.cluster_state import ClusterState
from streams.config import HugaiConfig
from streams.routing.backoff import BackoffPolicy, retry_delay
from streams.routing.breaker import BreakerPolicy

__all__ = ["BreakerRefused", "RateLimitedAway", "ResilientCaller", "breaker_policy", "rate_limiters", "resilient_caller"]

Recorder = Callable[[ChatResult | None, ProviderError | None, float], None]


class BreakerRefused(Exception):
    """The model's breaker is open (or the cluster's one probe is elsewhere): try another model."""


class RateLimitedAway(ProviderError):
    """The provider asked for a wait longer than a request is held: not retried here, try another model.
    Neither retryable (no retry on this model) nor fatal (the next candidate is tried)."""

    code = "rate_limited"

    def __init__(self, cause: RateLimited, wait_s: float):
        super().__init__(f"{cause.message} (asked to wait {wait_s:.0f} s)", provider=cause.provider, status=cause.status)
        self.wait_s = wait_s


class ResilientCaller:
    def __init__(self, *, backoff: BackoffPolicy, breakers: Breakers,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 jitter: Callable[[], float] = random.random,
                 forced_closed: Callable[[str], bool] = lambda model: False,
                 reroute_after_s: float = 2.0, clock: Callable[[], float] = time.time):
        self.backoff = backoff
        self.breakers = breakers
        self._sleep = sleep
        self._jitter = jitter
        self._forced_closed = forced_closed
        self._reroute_after_s = reroute_after_s
        self._clock = clock

    def _wait(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        return retry_delay(self.backoff, retry_state.attempt_number,
                           retry_after=getattr(error, "retry_after", None), jitter=self._jitter())

    async def call(self, model: str, invoke: Callable[[], Awaitable[ChatResult]], *, record: Recorder,
                   events: list, max_attempts: int | None = None) -> ChatResult:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(max_attempts or self.backoff.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(RetryableError),
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(model, invoke, record, events)
        raise AssertionError("tenacity ends by returning or raising")  # pragma: no cover

    async def _once(self, model: str, invoke: Callable[[], Awaitable[ChatResult]], record: Recorder,
                    events: list) -> ChatResult:
        if self._forced_closed(model):
            admission = "call"
        else:
            admission = await self.breakers.admit(model, events)
            if admission is None:
                raise BreakerRefused(model)
        probe = admission == "probe"
        started = time.perf_counter()
        try:
            result = await invoke()
        except ProviderError as exc:
            latency = (time.perf_counter() - started) * 1000
            record(None, exc, latency)
            await self.breakers.report(model, ok=isinstance(exc, FatalError), probe=probe, latency_ms=latency,
                                       output_tokens=0, events=events)
            wait = getattr(exc, "retry_after", None)
            if isinstance(exc, RateLimited) and wait is not None and wait > self._reroute_after_s:
                await self.breakers.limit(model, self._clock() + wait)
                raise RateLimitedAway(exc, wait) from exc
            raise
        except BaseException:
            if probe:  # cancelled mid-probe: no proof of health, so it counts as failed and the clock restarts
                await self.breakers.report(model, ok=False, probe=True, latency_ms=0.0, output_tokens=0, events=events)
            raise
        record(result, None, result.total_ms)
        await self.breakers.report(model, ok=True, probe=probe, latency_ms=result.total_ms,
                                   output_tokens=result.usage.output_tokens, events=events)
        return result


def breaker_policy(config: HugaiConfig) -> BreakerPolicy:
    return BreakerPolicy(failure_threshold=config.circuit_breaker.failure_threshold,
                         recovery_timeout_s=config.circuit_breaker.recovery_timeout.total_seconds())


def resilient_caller(config: HugaiConfig, state: ClusterState) -> ResilientCaller:
    """Retries and breakers as the config says: retry_with_exponential_backoff and circuit_breaker."""
    retry = config.retry_action()
    backoff = BackoffPolicy(
        max_attempts=(retry.max_attempts or 1) if retry else 1,
        initial_delay_s=retry.initial_delay.total_seconds() if retry and retry.initial_delay else 1.0,
        max_delay_s=retry.max_delay.total_seconds() if retry and retry.max_delay else 60.0,
    )
    return ResilientCaller(backoff=backoff, breakers=state.breakers, forced_closed=state.forced_closed,
                           reroute_after_s=config.circuit_breaker.rate_limit_reroute_after.total_seconds())


def rate_limiters(config: HugaiConfig) -> dict[str, RateLimiter]:
    """One limiter per provider family with rate_limits in config: this worker's share is all of it."""
    return {family: RateLimiter(requests_per_minute=spec.rate_limits.requests_per_minute,
                                tokens_per_minute=spec.rate_limits.tokens_per_minute, start=time.monotonic())
            for family, spec in config.providers.items() if spec.rate_limits is not None}
