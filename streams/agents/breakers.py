"""Where a worker's circuit breakers live: in this process, or kept cluster-wide.

LocalBreakers applies the breaker rules here, at once: one process, or tests without a broker.
ClusterBreakers reports every outcome on llm.outcomes and reads the keeper's state back from
llm.model-health, so a breaker that opens on one worker is open on all of them. Failures go at
once; successes on a model whose breaker is closed with no failures go together every 0.25 s.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Literal

from streams.events import BreakerChanged, ModelHealth, ModelOutcome, utcnow
from streams.routing.breaker import (
    BreakerPolicy,
    BreakerState,
    on_missing,
    on_outcome,
    on_probe_claim,
    on_rate_limited,
    verdict,
)
from streams.routing.scoring import Figures

__all__ = ["Breakers", "LocalBreakers", "ClusterBreakers", "breaker_changed"]

Admission = Literal["call", "probe"] | None  # None: refused

_STATE_OF = {"BreakerOpened": "open", "BreakerHalfOpened": "half_open", "BreakerClosed": "closed"}
_REASON = {"BreakerOpened": "{failures} failures in a row", "BreakerHalfOpened": "recovery timeout passed: one probe allowed",
           "BreakerClosed": "probe succeeded"}


def breaker_changed(model: str, name: str, state: BreakerState) -> BreakerChanged:
    reason = _REASON[name].format(failures=state.failures)
    return BreakerChanged(event_id=uuid.uuid4().hex, at=utcnow(), model=model, state=_STATE_OF[name], reason=reason)


class Breakers:
    """What ResilientCaller asks before and tells after each call."""

    async def admit(self, model: str, events: list) -> Admission:
        raise NotImplementedError

    async def report(self, model: str, *, ok: bool, probe: bool, latency_ms: float, output_tokens: int,
                     events: list) -> None:
        raise NotImplementedError

    def state(self, model: str) -> BreakerState:
        raise NotImplementedError

    async def limit(self, model: str, until: float) -> None:
        """The provider told us to wait until `until` (epoch seconds): skip the model till then, everywhere."""
        raise NotImplementedError

    async def mark_missing(self, model: str, *, missing: bool) -> None:
        """The provider does not serve `model` (a 404, not listed), or serves it again: for every worker."""
        raise NotImplementedError

    async def flush(self) -> None:
        """Send whatever report() gathered; a process that is its own keeper has nothing to send."""


class LocalBreakers(Breakers):
    def __init__(self, policy: BreakerPolicy, *, clock: Callable[[], float] = time.time):
        self.policy = policy
        self._clock = clock
        self._states: dict[str, BreakerState] = {}
        self._probing: set[str] = set()
        self._me = "local"

    def state(self, model: str) -> BreakerState:
        return self._states.get(model, BreakerState())

    def _set(self, model: str, state: BreakerState, names: list[str], events: list) -> None:
        self._states[model] = state
        events.extend(breaker_changed(model, name, state) for name in names)

    async def admit(self, model: str, events: list) -> Admission:
        now = self._clock()
        answer = verdict(self.state(model), self.policy, now, me=self._me, probing=model in self._probing)
        if answer == "claim":  # this process is the keeper too: the claim is granted at once
            self._set(model, *on_probe_claim(self.state(model), self.policy, now, self._me), events)
            answer = verdict(self.state(model), self.policy, now, me=self._me, probing=model in self._probing)
        if answer == "probe":
            self._probing.add(model)
        return answer if answer in ("call", "probe") else None

    async def report(self, model: str, *, ok: bool, probe: bool, latency_ms: float, output_tokens: int,
                     events: list) -> None:
        if probe:
            self._probing.discard(model)
        self._set(model, *on_outcome(self.state(model), self.policy, self._clock(), ok=ok, probe=probe), events)

    async def limit(self, model: str, until: float) -> None:
        self._states[model] = on_rate_limited(self.state(model), until)

    async def mark_missing(self, model: str, *, missing: bool) -> None:
        self._states[model] = on_missing(self.state(model), self._clock(), missing=missing)


class ClusterBreakers(Breakers):
    """The keeper's state, as last broadcast; outcomes and probe claims go out on llm.outcomes."""

    CLAIM_EVERY_S = 1.0  # a worker re-asks for a probe at most this often per model
    SUCCESSES_EVERY_S = 0.25  # how long successes on a healthy model may wait to be sent together
    MAX_GATHERED = 500

    def __init__(self, policy: BreakerPolicy, *, me: str, send: Callable[[ModelOutcome], Awaitable[None]],
                 clock: Callable[[], float] = time.time):
        self.policy = policy
        self.me = me
        self._send = send
        self._clock = clock
        self._states: dict[str, BreakerState] = {}
        self.figures: dict[str, Figures] = {}
        self.applied_at: dict[str, float] = {}  # when this worker learnt each model's state
        self._probing: set[str] = set()
        self._claimed_at: dict[str, float] = {}
        self._successes: dict[str, list[tuple[float, int]]] = {}  # model -> (latency ms, output tokens) not yet sent

    def apply(self, health: ModelHealth) -> None:
        # A limit this worker was told of itself holds until the keeper's broadcast catches up with it.
        told = self._states.get(health.model, BreakerState()).limited_until or 0.0
        self._states[health.model] = BreakerState(state=health.state, failures=health.failures,
                                                  opened_at=health.opened_at, probe_holder=health.probe_holder,
                                                  probe_granted_at=health.probe_granted_at,
                                                  limited_until=max(health.limited_until or 0.0, told) or None,
                                                  missing_since=health.missing_since)
        self.figures[health.model] = Figures.of(health.figures)
        self.applied_at[health.model] = self._clock()

    async def limit(self, model: str, until: float) -> None:
        self._states[model] = on_rate_limited(self.state(model), until)  # this worker skips it at once
        await self._send(ModelOutcome(model=model, worker=self.me, at=self._clock(), kind="rate_limited", until=until))

    async def mark_missing(self, model: str, *, missing: bool) -> None:
        self._states[model] = on_missing(self.state(model), self._clock(), missing=missing)
        await self._send(ModelOutcome(model=model, worker=self.me, at=self._clock(),
                                      kind="missing" if missing else "found"))

    def describe(self) -> dict[str, dict]:
        return {model: {"state": state.state, "failures": state.failures, "opened_at": state.opened_at,
                        "probe_holder": state.probe_holder, "limited_until": state.limited_until,
                        "missing_since": state.missing_since,
                        "applied_at": self.applied_at.get(model),
                        "figures": asdict(self.figures[model]) if model in self.figures else {}}
                for model, state in self._states.items()}

    def state(self, model: str) -> BreakerState:
        return self._states.get(model, BreakerState())

    async def admit(self, model: str, events: list) -> Admission:
        now = self._clock()
        answer = verdict(self.state(model), self.policy, now, me=self.me, probing=model in self._probing)
        if answer == "probe":
            self._probing.add(model)
            return "probe"
        if answer == "claim" and now - self._claimed_at.get(model, 0.0) >= self.CLAIM_EVERY_S:
            self._claimed_at[model] = now
            await self._send(ModelOutcome(model=model, worker=self.me, at=now, kind="probe_claim"))
        return "call" if answer == "call" else None

    async def report(self, model: str, *, ok: bool, probe: bool, latency_ms: float, output_tokens: int,
                     events: list) -> None:
        if probe:
            self._probing.discard(model)
        state = self.state(model)
        if ok and not probe and state.state == "closed" and not state.failures:
            # A success then changes nothing in the breaker, only the figures, which are published
            # once a second: it waits for flush(), so the keeper reads one event, not one per call.
            gathered = self._successes.setdefault(model, [])
            gathered.append((latency_ms, output_tokens))
            if len(gathered) >= self.MAX_GATHERED:
                await self._send_successes(model)
            return
        await self._send_successes(model)  # first: the keeper counts failures in a row, in order
        await self._send(ModelOutcome(model=model, worker=self.me, at=self._clock(), ok=ok, probe=probe,
                                      latency_ms=latency_ms, output_tokens=output_tokens))

    async def flush(self) -> None:
        """Send the successes gathered since the last flush: called every SUCCESSES_EVERY_S and at shutdown."""
        for model in list(self._successes):
            await self._send_successes(model)

    async def _send_successes(self, model: str) -> None:
        gathered = self._successes.pop(model, None)
        if not gathered:
            return
        await self._send(ModelOutcome(model=model, worker=self.me, at=self._clock(), kind="calls",
                                      latencies_ms=[latency for latency, _ in gathered],
                                      output_tokens=sum(tokens for _, tokens in gathered)))

