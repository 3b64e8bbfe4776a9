"""An HTTP front door's fields as an LLMRequest, or the problems that keep them from being one."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from streams.events import LLMRequest
from streams.events.base import validation_problems

__all__ = ["InvalidFields", "request_from"]


class InvalidFields(ValueError):
    """The first three problems, each "field.path: what is wrong"; `param` is the first one's path."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems[:3]))
        self.param = problems[0].split(":", 1)[0]


def request_from(fields: dict[str, Any]) -> LLMRequest:
    """The request the fields make; a field left None is left to the contract's default."""
    try:
        return LLMRequest.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise InvalidFields(validation_problems(exc)) from None
