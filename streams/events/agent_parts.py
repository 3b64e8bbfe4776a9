"""What agent traffic adds to a request: content parts, tools, tool calls, tool choice, structured output.

Provider-neutral spellings (each provider module translates them); the README's contract section has
JSON examples. Checked here, at the edge, so a request that no model could be sent fails by name.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated, Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import Field, field_validator, model_validator

from streams.events.base import Event

__all__ = [
    "TextPart", "ImagePart", "ContentPart", "ToolSpec", "ToolCall", "NamedTool", "ToolChoice", "ResponseFormat",
    "ToolCallFragment", "MAX_IMAGE_BYTES", "IMAGE_MEDIA_TYPES", "arguments_problem",
]

# The strictest family's limit per image (Anthropic: 5 MB); OpenAI takes 20 MB, Gemini 20 MB a request.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")  # what every family with vision reads
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class TextPart(Event):
    type: Literal["text"] = "text"
    text: str


class ImagePart(Event):
    """An image: an https URL the provider fetches, or a base64 data URL (`data:image/png;base64,...`)."""

    type: Literal["image"] = "image"
    url: str = Field(min_length=1)
    detail: Literal["auto", "low", "high"] | None = None

    @field_validator("url")
    @classmethod
    def _fetchable_or_inline(cls, url: str) -> str:
        if url.startswith("https://"):
            return url
        if not url.startswith("data:"):
            raise ValueError("an image url must be https:// or a base64 data: URL")
        media_type, _, rest = url[5:].partition(";")
        if not rest.startswith("base64,"):
            raise ValueError("a data: URL image must be base64 (data:image/png;base64,...)")
        if media_type not in IMAGE_MEDIA_TYPES:
            raise ValueError(f"image type {media_type or '(none)'} is not one of {', '.join(IMAGE_MEDIA_TYPES)}")
        # 3 bytes for every 4 characters: the decoded size is known without decoding the image twice.
        if (len(rest) - 7) * 3 // 4 > MAX_IMAGE_BYTES + 2:
            raise ValueError(f"image of about {(len(rest) - 7) * 3 // 4} bytes is over the {MAX_IMAGE_BYTES} byte "
                             "limit per image")
        try:
            size = len(base64.b64decode(rest[7:], validate=True))
        except (binascii.Error, ValueError):
            raise ValueError("the data: URL's image is not valid base64") from None
        if size > MAX_IMAGE_BYTES:
            raise ValueError(f"image of {size} bytes is over the {MAX_IMAGE_BYTES} byte limit per image")
        return url


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


def _json_schema_problem(schema: object) -> str | None:
    if not isinstance(schema, dict):
        return "must be a JSON schema object"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"is not a valid JSON schema: {exc.message}"
    return None


class ToolSpec(Event):
    """A function the model may call. `parameters` is a JSON schema of an object."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] = {"type": "object", "properties": {}}
    strict: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _TOOL_NAME.match(name):
            raise ValueError("a tool name is 1-64 of [a-zA-Z0-9_-]")
        return name

    @field_validator("parameters")
    @classmethod
    def _schema(cls, parameters: dict[str, Any]) -> dict[str, Any]:
        if problem := _json_schema_problem(parameters):
            raise ValueError(f"parameters {problem}")
        if parameters.get("type") != "object":
            raise ValueError('parameters must be the schema of an object ("type": "object")')
        return parameters


class ToolCall(Event):
    """A model's call of a function; `arguments` is JSON text of an object. An answer carries them as the
    model wrote them (an answer cut by max_tokens may end mid-arguments); a request's history must
    carry whole objects (ChatMessage checks), since Anthropic and Gemini are sent them parsed."""

    id: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1)
    arguments: str = "{}"


def arguments_problem(arguments: str) -> str | None:
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return "arguments must be JSON text of an object"
    return None if isinstance(parsed, dict) else "arguments must be JSON text of an object"


class NamedTool(Event):
    name: str


# auto: the model decides; none: no call; required: at least one; {"name": ...}: that function.
ToolChoice = Literal["auto", "none", "required"] | NamedTool


class ResponseFormat(Event):
    """text, json_object (any JSON object), or json_schema (JSON that fits `schema`)."""

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = Field(default=None, pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None

    model_config = {**Event.model_config, "populate_by_name": True, "serialize_by_alias": True}

    @model_validator(mode="after")
    def _schema_when_asked(self) -> ResponseFormat:
        if self.type == "json_schema":
            if self.schema_ is None:
                raise ValueError("a json_schema response_format needs its 'schema'")
            if problem := _json_schema_problem(self.schema_):
                raise ValueError(f"schema {problem}")
        elif self.schema_ is not None:
            raise ValueError(f"'schema' goes with type json_schema, not {self.type}")
        return self


class ToolCallFragment(Event):
    """A piece of a streamed tool call: the first piece of call `index` has its id and name, the rest add
    to its arguments (OpenAI's delta.tool_calls)."""

    index: int = Field(ge=0)
    id: str | None = None
    name: str | None = None
    arguments: str = ""
