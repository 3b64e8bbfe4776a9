"""What a request needs of a model beyond text, and which models lack it. Pure: the catalog in.

A need comes from the request itself (tools, images, a JSON response format, a seed, tool calls one at
a time); whether a model has it comes from its catalog entry (function_calling, vision,
json_mode, structured_output) or from what its family's API can be sent at all (FAMILY_LACKS). A model that lacks
a need is excluded with the reason, as the request's own limit: when none is left the answer is
no_model_fits, naming each model and what it lacks.
"""

from __future__ import annotations

from streams.config import ModelSpec
from streams.events import LLMRequest

__all__ = ["Need", "needs_of", "lacking", "FAMILY_LACKS"]

Need = str

# What a family's API cannot be sent, whatever the model: Anthropic takes no seed; Gemini reads images
# only inline (no https URL); only OpenAI and Anthropic can be told to call tools one at a time.
FAMILY_LACKS: dict[str, frozenset[Need]] = {
    "anthropic": frozenset({"seed"}),
    "google": frozenset({"image_urls", "sequential_tool_calls"}),
    "cohere": frozenset({"sequential_tool_calls"}),
    "local": frozenset({"sequential_tool_calls"}),
}

_WHY: dict[Need, str] = {
    "function_calling": "does not call functions (the request has tools)",
    "vision": "does not read images (the request has images)",
    "image_urls": "reads images only inline, as data: URLs (the request has an https image)",
    "json_mode": "cannot be held to JSON output (response_format json_object)",
    "structured_output": "cannot be held to a JSON schema (response_format json_schema)",
    "seed": "takes no seed (the request sets one)",
    "sequential_tool_calls": "cannot be told to call tools one at a time (parallel_tool_calls is false)",
    "embedding": "is not an embedding model (the request asks for vectors)",
    "chat": "is an embedding model (the request asks for an answer)",
}


def needs_of(request: LLMRequest) -> frozenset[Need]:
    needs: set[Need] = {"embedding" if request.input is not None else "chat"}
    messages = request.chat_messages()
    if request.tools or any(m.tool_calls or m.role == "tool" for m in messages):
        needs.add("function_calling")
    images = [image for m in messages for image in m.images]
    if images:
        needs.add("vision")
    if any(not image.url.startswith("data:") for image in images):
        needs.add("image_urls")
    if request.response_format is not None and request.response_format.type != "text":
        needs.add("structured_output" if request.response_format.type == "json_schema" else "json_mode")
    if request.seed is not None:
        needs.add("seed")
    if request.parallel_tool_calls is False:
        needs.add("sequential_tool_calls")
    return frozenset(needs)


def lacking(spec: ModelSpec, needs: frozenset[Need]) -> str | None:
    """Why `spec` cannot serve a request with `needs`, or None."""
    if not needs:
        return None
    has = {"function_calling": spec.function_calling, "vision": spec.vision,
           "json_mode": spec.json_mode or spec.structured_output, "structured_output": spec.structured_output,
           "embedding": spec.embeds, "chat": not spec.embeds}
    family = FAMILY_LACKS.get(spec.provider, frozenset())
    missing = sorted(n for n in needs if not has.get(n, True) or n in family)
    return "; ".join(_WHY[n] for n in missing) or None
