"""What every wire event shares: strict JSON models, UTF-8 bytes, aware UTC times."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.events.topic_names import NOT_REPLY_TARGETS

__all__ = ["Event", "RequestId", "reply_topic_problem", "utcnow", "validation_problems"]


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


# The names pydantic gives a union's branches in an error's location: a type, not a field.
_BRANCH = re.compile(r"^(str|int|float|bool|none|dict\[.*|list\[.*|literal\[.*|tagged-union\[.*|function-.*|[A-Z]\w*)$")


def validation_problems(exc: ValidationError) -> list[str]:
    """'field.path: what is wrong' for each error, most telling first. Of a union's branches only the
    ones that got furthest are kept: a list of content parts with a bad image is reported at the image,
    not also as "not a string"."""
    deepest: dict[tuple, int] = {}
    found = []
    for err in exc.errors():
        loc = err["loc"]
        cut = next((i for i, part in enumerate(loc) if isinstance(part, str) and _BRANCH.match(part)), len(loc))
        path = tuple(p for p in loc if not (isinstance(p, str) and _BRANCH.match(p)))
        found.append((loc[:cut], len(loc), ".".join(str(p) for p in path) or "request",
                      err["msg"].removeprefix("Value error, ")))
        deepest[loc[:cut]] = max(deepest.get(loc[:cut], 0), len(loc))
    return [f"{where}: {msg}" for prefix, depth, where, msg in found if depth == deepest[prefix]]
