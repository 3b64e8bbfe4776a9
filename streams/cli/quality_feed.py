"""The sink's live-quality loop: recompute quality per (model, task type) from ClickHouse, broadcast changes.

The sink holds the joined record of requests and their feedback (ClickHouse is the system of record;
with embedded chdb, only the sink may open it), so it computes the figures (analytics/quality.py)
every quality_feedback.refresh and publishes each one that changed on llm.model-quality, compacted.
Every worker reads that topic whole and follows it, as it does the breakers' llm.model-health, so
all workers route on the same figures. A figure that left the window is published with 0 judgments,
so workers go back to the tier's prior for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from analytics.quality import FeedbackRule, live_quality
from analytics.store import Store, StoreError
from streams.config.schema import QualityFeedback
from streams.events import ModelQuality
from streams.events.topic_names import MODEL_QUALITY
from streams.kafka.state_io import read_all

__all__ = ["feedback_rule", "quality_feed"]

log = logging.getLogger(__name__)


def feedback_rule(spec: QualityFeedback) -> FeedbackRule:
    return FeedbackRule(half_life_s=spec.half_life.total_seconds(), window_s=spec.window.total_seconds(),
                        satisfaction=spec.weights.satisfaction, relevance=spec.weights.relevance,
                        success=spec.weights.success)


def quality_feed(spec: QualityFeedback, bootstrap: str, *,
                 clock: Callable[[], float] = time.time) -> Callable[[Store], Awaitable[None]]:
    """The loop, for serve_sink(background=...): runs until cancelled."""
    rule = feedback_rule(spec)

    async def run(store: Store) -> None:
        # What the topic holds now: a figure a previous sink published that has since left the window
        # is cleared too, not left standing for ever.
        published: dict[str, tuple[float, int]] = {}
        try:
            for key, value in await read_all(bootstrap, MODEL_QUALITY):
                if key is not None and value is not None:
                    held = ModelQuality.model_validate_json(value)
                    published[key.decode()] = (held.quality, held.judgments)
        except (KafkaError, ValueError) as exc:  # the loop still runs; a stale figure is then cleared on change only
            log.warning("live quality: could not read %s at start: %s: %s", MODEL_QUALITY, type(exc).__name__,
                        str(exc)[:200])
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=10_000)
        await producer.start()
        try:
            while True:
                try:
                    figures = await asyncio.to_thread(live_quality, store, rule)
                    current = {f"{f.model}|{f.task_type}": f for f in figures}
                    changed = [ModelQuality(model=f.model, task_type=f.task_type, quality=f.quality,
                                            judgments=f.judgments, at=clock())
                               for key, f in current.items() if published.get(key) != (f.quality, f.judgments)]
                    changed += [ModelQuality(model=key.split("|", 1)[0], task_type=key.split("|", 1)[1], quality=0.0,
                                             judgments=0, at=clock())
                                for key, held in published.items() if key not in current and held[1] > 0]
                    for figure in changed:
                        await producer.send(MODEL_QUALITY, figure.to_bytes(), key=figure.key.encode())
                        published[figure.key] = (figure.quality, figure.judgments)
                    if changed:
                        await producer.flush()
                        log.info("live quality: %s", ", ".join(f"{f.key} {f.quality:.2f} ({f.judgments})"
                                                               for f in changed[:10]))
                except (StoreError, KafkaError) as exc:
                    log.warning("live quality not refreshed: %s: %s", type(exc).__name__, str(exc)[:200])
                await asyncio.sleep(spec.refresh.total_seconds())
        finally:
            await producer.stop()

    return run
