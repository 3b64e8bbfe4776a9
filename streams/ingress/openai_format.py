"""OpenAI's chat-completions format, translated to our events and back. Pure: no I/O.

Routing from the OpenAI request:
  model "auto"                      route by the task hint (metadata.task_type, or X-Task-Type), else the default task
  model "auto" + task hint          that task's routing_strategy
  a catalog model id                pinned: that model only
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from streams.events import LLMRequest, LLMResponse, ToolCallFragment
from streams.ingress.openai_messages import (
    BadChatRequest,
    messages_of,
    response_format_of,
    stop_of,
    tool_choice_of,
    tools_of,
)
from streams.ingress.openai_params import refused_parameter
from streams.ingress.request_fields import InvalidFields, request_from
from streams.routing import DEFAULT_TASK_TYPE

__all__ = ["BadChatRequest", "UnsupportedParameter", "AUTO", "to_llm_request", "completion_body", "ChunkFrames",
           "error_body", "status_for"]

AUTO = "auto"


class UnsupportedParameter(BadChatRequest):
    """A chat-completions parameter the router does not carry (streams/ingress/openai_params.py)."""


def to_llm_request(body: object, *, task_header: str | None, models: set[str]) -> tuple[LLMRequest, bool]:
    """(the request event, whether the caller asked for a stream)."""
    if not isinstance(body, dict):
        raise BadChatRequest("the body must be a JSON object")
    if (refused := refused_parameter(body)) is not None:
        name, why = refused
        raise UnsupportedParameter(f"{name}: not supported by this router ({why})", name)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadChatRequest("'model' is required: a model id, or \"auto\" to let the router choose", "model")
    if model != AUTO and model not in models:
        raise BadChatRequest(f"unknown model {model!r}; GET /v1/models lists them", "model")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise BadChatRequest("'metadata' must be an object", "metadata")
    task_type = metadata.get("task_type") or task_header or DEFAULT_TASK_TYPE
    fields: dict[str, Any] = {
        "request_id": f"http-{uuid.uuid4().hex}",
        "task_type": task_type,
        "messages": messages_of(body.get("messages")),
        "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens"),
        "temperature": body.get("temperature"),
        "top_p": body.get("top_p"),
        "stop": stop_of(body.get("stop")),
        "seed": body.get("seed"),
        "tools": tools_of(body.get("tools")),
        "tool_choice": tool_choice_of(body.get("tool_choice")),
        "parallel_tool_calls": body.get("parallel_tool_calls"),
        "response_format": response_format_of(body.get("response_format")),
        "metadata": {k: v for k, v in metadata.items() if k != "task_type"},
    }
    if model != AUTO:
        # Pinned: the model and nothing else (the same id as its own only fallback).
        fields |= {"preferred_model": model, "fallback_models": [model]}
    try:
        return request_from(fields), bool(body.get("stream"))
    except InvalidFields as exc:
        raise BadChatRequest(str(exc), exc.param) from None


def _usage(response: LLMResponse) -> dict[str, Any]:
    used = response.usage
    usage: dict[str, Any] = {"prompt_tokens": used.input_tokens, "completion_tokens": used.output_tokens,
                             "total_tokens": used.input_tokens + used.output_tokens}
    # OpenAI's own breakdowns, for clients that read them (cache writes have no OpenAI field).
    if used.cached_input_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": used.cached_input_tokens}
    if used.reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": used.reasoning_tokens}
    return usage


def _wire_calls(response: LLMResponse) -> list[dict[str, Any]]:
    return [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in response.tool_calls]


def completion_body(response: LLMResponse) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": response.content or ""}
    if response.tool_calls:
        message = {"role": "assistant", "content": response.content or None, "tool_calls": _wire_calls(response)}
    return {
        "id": f"chatcmpl-{response.request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": response.model or "",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": response.finish_reason or "stop"}],
        "usage": _usage(response),
        "system_fingerprint": None,
    }


class ChunkFrames:
    """The SSE frames of one streamed chat completion, as OpenAI sends them: a role chunk, a content
    chunk per piece, a finish chunk, a usage chunk when asked for, then [DONE]. A failure after the
    stream began is an `{"error": ...}` frame, which the openai SDK raises as APIError."""

    def __init__(self, request_id: str, model: str):
        self._base = {"id": f"chatcmpl-{request_id}", "object": "chat.completion.chunk", "created": int(time.time()),
                      "model": model, "system_fingerprint": None}

    def _frame(self, choices: list, **extra: Any) -> bytes:
        return f"data: {json.dumps({**self._base, 'choices': choices, **extra})}\n\n".encode()

    def role(self, model: str | None = None) -> bytes:
        """The first chunk. From it on, the chunks name `model` (the model answering) when it is known."""
        self._base["model"] = model or self._base["model"]
        return self._frame([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                             "finish_reason": None}])

    def content(self, text: str) -> bytes:
        return self._frame([{"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}])

    def tool_call(self, fragment: ToolCallFragment) -> bytes:
        """A piece of a tool call, as OpenAI streams it: the first piece of a call has its id, type and
        name; every piece adds to the arguments."""
        call: dict[str, Any] = {"index": fragment.index}
        function: dict[str, Any] = {"arguments": fragment.arguments}
        if fragment.id is not None:
            call |= {"id": fragment.id, "type": "function"}
        if fragment.name is not None:
            function["name"] = fragment.name
        call["function"] = function
        return self._frame([{"index": 0, "delta": {"tool_calls": [call]}, "logprobs": None, "finish_reason": None}])

    def piece(self, piece: str | ToolCallFragment) -> bytes:
        return self.tool_call(piece) if isinstance(piece, ToolCallFragment) else self.content(piece)

    def end(self, response: LLMResponse, *, include_usage: bool) -> list[bytes]:
        self._base["model"] = response.model or self._base["model"]
        frames = [self._frame([{"index": 0, "delta": {}, "logprobs": None,
                                "finish_reason": response.finish_reason or "stop"}])]
        if include_usage:
            frames.append(self._frame([], usage=_usage(response)))
        return [*frames, DONE]

    @staticmethod
    def error(message: str, code: str) -> list[bytes]:
        body = error_body(status_for(code), message, code=code)
        return [f"data: {json.dumps(body)}\n\n".encode(), DONE]


DONE = b"data: [DONE]\n\n"


# Our error codes -> HTTP status. Anything else that failed is a 500.
_STATUS = {
    "invalid_request": 400, "unsupported_parameter": 400, "unknown_task_type": 400, "unknown_model": 400, "bad_request": 400,
    "context_length_exceeded": 400, "content_refused": 400, "no_model_fits": 400,
    "approval_rejected": 403, "approval_timeout": 408,
    "budget_exceeded": 402, "rate_limited": 429,
    "provider_unavailable": 503, "provider_timeout": 503, "no_model_available": 503,
    "authentication_failed": 502,
    "timeout": 504,
}
_TYPE = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota", 403: "permission_error",
         408: "timeout", 413: "invalid_request_error",
         429: "rate_limit_error", 502: "api_error", 503: "api_error", 504: "timeout", 500: "api_error"}


def status_for(code: str) -> int:
    return _STATUS.get(code, 500)


def error_body(status: int, message: str, *, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": _TYPE.get(status, "api_error"), "param": param, "code": code}}
