"""Calls to one model with retries (tenacity, on the seed's backoff schedule) behind its circuit breaker.

Breakers live in this worker for now: each worker learns a model's failures itself.
Only retryable provider errors are retried. A fatal error means the provider answered (the
request was at fault), so it counts as a success for the breaker and is never retried.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from providers import ChatResult, FatalError, ProviderError, RetryableError
from streams.events import BreakerChanged, utcnow
from streams.routing.backoff import BackoffPolicy, retry_delay
from streams.routing.breaker import BreakerPolicy, BreakerState, admit, record_failure, record_success

__all__ = ["BreakerRefused", "ResilientCaller"]

_STATE_OF = {"BreakerOpened": "open", "BreakerHalfOpened": "half_open", "BreakerClosed": "closed"}
Recorder = Callable[[ChatResult | None, ProviderError | None, float], None]


class BreakerRefused(Exception):
    """The model's breaker is open (or its one probe is in flight): try another model."""


class ResilientCaller:
    def __init__(self, *, backoff: BackoffPolicy, breaker: BreakerPolicy,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 jitter: Callable[[], float] = random.random):
        self._backoff = backoff
        self._policy = breaker
        self._monotonic = monotonic
        self._sleep = sleep
        self._jitter = jitter
        self.breakers: dict[str, BreakerState] = {}

    def _wait(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        return retry_delay(self._backoff, retry_state.attempt_number,
                           retry_after=getattr(error, "retry_after", None), jitter=self._jitter())

    async def call(self, model: str, invoke: Callable[[], Awaitable[ChatResult]], *, record: Recorder,
                   events: list) -> ChatResult:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._backoff.max_attempts),
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
        allowed, state, names = admit(self.breakers.get(model, BreakerState()), self._policy, self._monotonic())
        self._update(model, state, names, "recovery timeout passed: one probe allowed", events)
        if not allowed:
            raise BreakerRefused(model)
        started = time.perf_counter()
        try:
            result = await invoke()
        except RetryableError as exc:
            record(None, exc, (time.perf_counter() - started) * 1000)
            state, names = record_failure(self.breakers[model], self._policy, self._monotonic())
            self._update(model, state, names, f"{state.failures} failures in a row, last {exc.code}", events)
            raise
        except FatalError as exc:
            record(None, exc, (time.perf_counter() - started) * 1000)
            state, names = record_success(self.breakers[model], self._policy, self._monotonic())
            self._update(model, state, names, "the provider answered", events)
            raise
        record(result, None, result.total_ms)
        state, names = record_success(self.breakers[model], self._policy, self._monotonic())
        self._update(model, state, names, "probe succeeded", events)
        return result

    def _update(self, model: str, state: BreakerState, names: list[str], reason: str, events: list) -> None:
        self.breakers[model] = state
        for name in names:
            events.append(BreakerChanged(event_id=uuid.uuid4().hex, at=utcnow(), model=model,
                                         state=_STATE_OF[name], reason=reason))
