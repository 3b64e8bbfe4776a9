"""The breaker keeper: one writer per model for its breaker and live figures, in Faust tables.

It reads llm.outcomes (keyed by model, so each model's outcomes reach one worker, in order; a
worker sends successes on a healthy model in batches, streams/agents/breakers.py; and a long
Retry-After it was told, which marks the model rate limited until then for every worker),
keeps the breaker state in a table and the current window's figures in a tumbling windowed
table, and broadcasts the result on llm.model-health for every worker to read. A breaker change
is broadcast at once and filed in ClickHouse (BreakerChanged on llm.telemetry); figures go out
at most once a second per model.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta

import faust

from streams.agents.breakers import breaker_changed
from streams.agents.keeping import keep_each
from streams.events import ModelHealth, ModelOutcome
from streams.events.topic_names import MODEL_FIGURES_EXPIRES_S, MODEL_HEALTH
from streams.kafka.side_channel import SideChannel
from streams.kafka.topics import Topics
from streams.routing.breaker import (
    BreakerPolicy,
    BreakerState,
    on_missing,
    on_outcome,
    on_probe_claim,
    on_rate_limited,
)

__all__ = ["register_breaker_keeper", "WINDOW_S", "LATENCY_BOUNDS_MS", "figures_of", "add_call"]

log = logging.getLogger(__name__)
WINDOW_S = 60.0
PUBLISH_EVERY_S = 1.0
# Latency histogram bucket upper bounds: 1 ms to ~2 min, 25% apart, so p50/p95 are within 25%.
LATENCY_BOUNDS_MS = tuple(round(1.25 ** i, 3) for i in range(53))


def add_call(window: dict | None, outcome: ModelOutcome) -> dict:
    window = dict(window or {"calls": 0, "ok": 0, "ok_ms": 0.0, "tokens": 0, "hist": [0] * (len(LATENCY_BOUNDS_MS) + 1)})
    window["hist"] = list(window["hist"])
    latencies = outcome.latencies()
    window["calls"] += len(latencies)
    if outcome.ok:
        window["ok"] += len(latencies)
        window["ok_ms"] += sum(latencies)
        window["tokens"] += outcome.output_tokens
    for latency_ms in latencies:
        window["hist"][bisect.bisect_left(LATENCY_BOUNDS_MS, latency_ms)] += 1
    return window


def figures_of(window: dict | None) -> dict[str, float]:
    if not window:
        return {}
    hist, calls = window["hist"], window["calls"]

    def percentile(q: float) -> float:
        seen, target = 0, q * calls
        for i, count in enumerate(hist):
            seen += count
            if seen >= target and count:
                return LATENCY_BOUNDS_MS[min(i, len(LATENCY_BOUNDS_MS) - 1)]
        return LATENCY_BOUNDS_MS[-1]

    seconds = window["ok_ms"] / 1000
    return {"calls": calls, "ok": window["ok"], "p50_ms": percentile(0.5), "p95_ms": percentile(0.95),
            "tokens_per_s": round(window["tokens"] / seconds, 3) if seconds > 0 else 0.0}


def register_breaker_keeper(app: faust.App, topics: Topics, side: SideChannel, *, policy: BreakerPolicy,
                            clock: Callable[[], float] = time.time) -> faust.types.AgentT:
    breakers = app.Table("model-breakers", default=None)
    windows = app.Table("model-figures", default=dict).tumbling(WINDOW_S, expires=timedelta(seconds=MODEL_FIGURES_EXPIRES_S))
    dirty: set[str] = set()

    async def publish(model: str, state: BreakerState, window: dict | None) -> None:
        health = ModelHealth(model=model, at=clock(), figures=figures_of(window), **asdict(state))
        await side.send(MODEL_HEALTH, model.encode(), health.to_bytes())

    async def apply(outcome: ModelOutcome) -> None:
        model, now = outcome.model, clock()
        raw = breakers.get(model)
        state = BreakerState(**raw) if raw else BreakerState()
        if outcome.kind == "probe_claim":
            new, names = on_probe_claim(state, policy, now, outcome.worker)
        elif outcome.kind in ("missing", "found"):
            new, names = on_missing(state, now, missing=outcome.kind == "missing"), []
            if new != state:
                log.warning("%s is %s by its provider (told %s)", model,
                            "not served" if outcome.kind == "missing" else "served again", outcome.worker)
        elif outcome.kind == "rate_limited":
            new, names = on_rate_limited(state, outcome.until or now), []
            if new != state:
                log.info("%s is rate limited by its provider for %.0f s (told %s)", model, (outcome.until or now) - now,
                         outcome.worker)
        else:  # successes in a row do what one does: a "calls" batch (ok) is applied once
            new, names = on_outcome(state, policy, now, ok=outcome.ok, probe=outcome.probe)
            windows[model] = add_call(windows[model].current(), outcome)
        if new == state:
            dirty.add(model)
            return
        breakers[model] = asdict(new)
        await publish(model, new, windows[model].current())
        dirty.discard(model)
        for name in names:
            change = breaker_changed(model, name, new)
            await topics.telemetry.send(key=model.encode(), value=change.to_bytes(), force=True)
            log.info("breaker of %s is %s (%s)", model, change.state, change.reason)

    @app.agent(topics.outcomes, name="keep_breakers")
    async def keep_breakers(stream: faust.StreamT) -> None:
        await keep_each(stream, ModelOutcome, apply)

    @app.timer(interval=PUBLISH_EVERY_S)
    async def publish_figures() -> None:
        for model in list(dirty):
            dirty.discard(model)
            raw = breakers.get(model)
            await publish(model, BreakerState(**raw) if raw else BreakerState(), windows[model].now())

    return keep_breakers
