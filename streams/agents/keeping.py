"""The loop every keeper agent runs: parse each event, handle it, and never let one event stop the keeper."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import faust
from pydantic import BaseModel, ValidationError

__all__ = ["keep_each"]

log = logging.getLogger(__name__)
E = TypeVar("E", bound=BaseModel)


async def keep_each(stream: faust.StreamT, kind: type[E], handle: Callable[[E], Awaitable[None]]) -> None:
    """A crashed Faust agent is restarted, but the event that crashed it is not retried: so log and go on."""
    async for event in stream.events():
        where = f"{event.message.topic}[{event.message.partition}]@{event.message.offset}"
        try:
            parsed = kind.model_validate_json(event.value)
        except ValidationError as exc:
            log.error("skipping an unreadable %s at %s: %s", kind.__name__, where, exc.errors()[0]["msg"])
            continue
        try:
            await handle(parsed)
        except Exception:  # noqa: BLE001 - one bad event must not stop the state every worker relies on
            log.exception("could not apply the %s at %s", kind.__name__, where)
