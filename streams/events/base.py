"""What every wire event shares: strict JSON models, UTF-8 bytes, aware UTC times."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from streams.events.topic_names import NOT_REPLY_TARGETS

__all__ = ["Event", "RequestId", "reply_topic_problem", "utcnow"]


# Kafka's own rule for topic names.
_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


RequestId = Annotated[str, Field(min_length=1, max_length=128)]


def reply_topic_problem(name: str) -> str | None:
    """Why `name` cannot be a reply_to topic, or None when it can."""
    if not _TOPIC_NAME.match(name):
        return "must be a Kafka topic name: 1-249 of [a-zA-Z0-9._-]"
    if name in NOT_REPLY_TARGETS:
        return f"{name} is an input topic of the router, not a reply topic"
    return None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode("utf-8")
