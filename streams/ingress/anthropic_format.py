"""Anthropic's Messages API format, translated to our events and back. Pure: no I/O.

A Messages request becomes an LLMRequest like any other, so it is routed like any other and may be
served by another family's model; the answer is written back in Anthropic's shape. Routing:
  model "auto"                     the task hint (metadata.task_type, or the X-Task-Type header), else the default task
  a catalog model id               pinned: that model only
Everything a client sends is carried or refused by name (BadMessagesRequest with its param path).
The parameters are those of the current API (anthropic SDK 2.14); `temperature` and `top_p`, which
older clients send, are carried too. Accepted and not forwarded: `cache_control` (top level or on a
block: a prompt-cache hint; each provider caches as it does), `service_tier` (the router never asks
for priority capacity), `speed: "standard"`, and `user_profile_id` (kept as metadata).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from streams.events import LLMRequest, LLMResponse, ToolCallFragment
from streams.ingress.request_fields import InvalidFields, request_from
from streams.routing import DEFAULT_TASK_TYPE

__all__ = ["BadMessagesRequest", "to_llm_request", "message_body", "MessageEvents", "error_body", "status_for"]

AUTO = "auto"
# Messages API parameters that change what a model does and that the router does not carry.
_REFUSED = {
    "top_k": "no other family takes it",
    "thinking": "extended thinking is not routed across families",
    "container": "code-execution containers are Anthropic's alone",
    "mcp_servers": "MCP connectors are Anthropic's alone",
    "context_management": "Anthropic's context editing is not routed",
    "inference_geo": "the router cannot promise where a call runs",
    "diagnostics": "prompt-cache diagnostics are Anthropic's alone",
    "workspace_id": "calls go out under the router's own provider keys",
}
_KNOWN = {"model", "messages", "max_tokens", "system", "tools", "tool_choice", "stop_sequences", "temperature",
          "top_p", "metadata", "stream", "cache_control", "output_config", "service_tier", "speed", "user_profile_id"}
_STOP_REASON = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}


class BadMessagesRequest(ValueError):
    """The body is not a Messages request we can serve; the message says why, `param` where."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(f"{param}: {message}" if param else message)
        self.param = param


def _text_of(blocks: Any, where: str) -> str:
    """System prompts and tool results: a string, or text blocks."""
    if isinstance(blocks, str):
        return blocks
    if not isinstance(blocks, list):
        raise BadMessagesRequest("must be a string or a list of text blocks", where)
    texts = []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or block.get("type") != "text":
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise BadMessagesRequest(f"blocks of type {kind!r} are not carried here (text is)", f"{where}.{i}")
        texts.append(str(block.get("text") or ""))
    return "\n".join(texts)


def _image(block: dict, where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise BadMessagesRequest("an image needs a source", f"{where}.source")
    if source.get("type") == "base64":
        return {"type": "image", "url": f"data:{source.get('media_type')};base64,{source.get('data')}"}
    if source.get("type") == "url":
        return {"type": "image", "url": source.get("url")}
    raise BadMessagesRequest(f"image sources of type {source.get('type')!r} are not carried (base64 and url are)",
                             f"{where}.source.type")


def _turns(role: str, content: Any, where: str) -> list[dict[str, Any]]:
    """One Messages turn as our messages: a user turn's tool results become tool turns, first."""
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list) or not content:
        raise BadMessagesRequest("must be a string or a non-empty list of content blocks", f"{where}.content")
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        at = f"{where}.content.{i}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text")})
        elif kind == "image" and role == "user":
            parts.append(_image(block, at))
        elif kind == "tool_use" and role == "assistant":
            calls.append({"id": block.get("id"), "name": block.get("name"),
                          "arguments": json.dumps(block.get("input") if block.get("input") is not None else {})})
        elif kind == "tool_result" and role == "user":
            text = _text_of(block.get("content") or "", f"{at}.content")
            if block.get("is_error"):
                text = f"[error] {text}"
            tools.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text})
        else:
            raise BadMessagesRequest(f"content blocks of type {kind!r} are not carried in a {role} turn", f"{at}.type")
    turns = list(tools)
    if role == "assistant":
        text = "".join(p["text"] or "" for p in parts)
        turns.append({"role": "assistant", "content": text or None, **({"tool_calls": calls} if calls else {})})
    elif parts:
        turns.append({"role": "user", "content": parts})
    return turns


def _tools(tools: Any) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise BadMessagesRequest("must be a list", "tools")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise BadMessagesRequest("a tool must be an object", f"tools.{i}")
        if tool.get("type") not in (None, "custom"):
            raise BadMessagesRequest(f"server tools ({tool.get('type')!r}) are Anthropic's alone and not routed",
                                     f"tools.{i}.type")
        out.append({"name": tool.get("name"), "description": tool.get("description"),
                    "parameters": tool.get("input_schema")})
    return out


def _tool_choice(choice: Any) -> tuple[Any, bool | None]:
    """(our tool_choice, parallel_tool_calls)."""
    if choice is None:
        return None, None
    if not isinstance(choice, dict):
        raise BadMessagesRequest("must be an object with a type", "tool_choice")
    parallel = False if choice.get("disable_parallel_tool_use") else None
    kind = choice.get("type")
    if kind == "auto":
        return "auto", parallel
    if kind == "any":
        return "required", parallel
    if kind == "none":
        return "none", parallel
    if kind == "tool":
        return {"name": choice.get("name")}, parallel
    raise BadMessagesRequest(f"type {kind!r} is not one of auto, any, tool, none", "tool_choice.type")


def _output_format(config: Any) -> dict[str, Any] | None:
    """output_config: `format` (structured output, a JSON schema) is carried; `effort` is not routed."""
    if config is None:
        return None
    if not isinstance(config, dict):
        raise BadMessagesRequest("must be an object", "output_config")
    for name in config:
        if name == "effort" and config[name] is not None:
            raise BadMessagesRequest("effort levels are Anthropic's alone and not routed", "output_config.effort")
        if name not in ("effort", "format"):
            raise BadMessagesRequest("not an output_config field this router knows", f"output_config.{name}")
    wanted = config.get("format")
    if wanted is None:
        return None
    if not isinstance(wanted, dict) or wanted.get("type") != "json_schema":
        raise BadMessagesRequest("the format is {\"type\": \"json_schema\", \"schema\": {...}}", "output_config.format")
    return {"type": "json_schema", "name": "output", "schema": wanted.get("schema")}


def to_llm_request(body: object, *, task_header: str | None, models: set[str]) -> tuple[LLMRequest, bool]:
    """(the request event, whether the caller asked for a stream)."""
    if not isinstance(body, dict):
        raise BadMessagesRequest("the body must be a JSON object")
    for name in body:
        if name in _REFUSED:
            raise BadMessagesRequest(f"not supported by this router ({_REFUSED[name]})", name)
        if name not in _KNOWN:
            raise BadMessagesRequest("not a Messages API parameter this router knows", name)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadMessagesRequest("required: a model id, or \"auto\" to let the router choose", "model")
    if model != AUTO and model not in models:
        raise BadMessagesRequest(f"unknown model {model!r}; GET /v1/models lists them", "model")
    if "max_tokens" not in body:
        raise BadMessagesRequest("Field required", "max_tokens")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadMessagesRequest("required: a non-empty list of turns", "messages")
    turns: list[dict[str, Any]] = []
    if body.get("system"):
        turns.append({"role": "system", "content": _text_of(body["system"], "system")})
    for i, turn in enumerate(messages):
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
            raise BadMessagesRequest("a turn's role is user or assistant", f"messages.{i}.role")
        turns += _turns(turn["role"], turn.get("content"), f"messages.{i}")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise BadMessagesRequest("must be an object", "metadata")
    stop = body.get("stop_sequences")
    if isinstance(stop, list) and len(stop) > 4:
        raise BadMessagesRequest("at most 4 are carried (the lowest limit of the families this router uses)",
                                 "stop_sequences")
    tool_choice, parallel = _tool_choice(body.get("tool_choice"))
    if body.get("speed") not in (None, "standard"):
        raise BadMessagesRequest(f"{body['speed']!r} is not routed (\"standard\" is)", "speed")
    if body.get("service_tier") not in (None, "auto", "standard_only"):
        raise BadMessagesRequest("is auto or standard_only", "service_tier")
    if body.get("user_profile_id"):
        metadata = {**metadata, "user_profile_id": body["user_profile_id"]}
    fields: dict[str, Any] = {
        "request_id": f"http-{uuid.uuid4().hex}", "task_type": metadata.get("task_type") or task_header or DEFAULT_TASK_TYPE,
        "messages": turns, "max_tokens": body.get("max_tokens"), "temperature": body.get("temperature"),
        "top_p": body.get("top_p"), "stop": stop, "tools": _tools(body.get("tools")), "tool_choice": tool_choice,
        "parallel_tool_calls": parallel, "response_format": _output_format(body.get("output_config")),
        "metadata": {("user" if k == "user_id" else k): v for k, v in metadata.items() if k != "task_type"},
    }
    if model != AUTO:
        fields |= {"preferred_model": model, "fallback_models": [model]}
    try:
        return request_from(fields), bool(body.get("stream"))
    except InvalidFields as exc:
        raise BadMessagesRequest(str(exc)) from None


def _usage(response: LLMResponse) -> dict[str, int]:
    """Anthropic counts input tokens apart from the prompt cache's reads and writes; ours includes them."""
    used = response.usage
    return {"input_tokens": max(used.input_tokens - used.cached_input_tokens - used.cache_write_tokens, 0),
            "output_tokens": used.output_tokens, "cache_read_input_tokens": used.cached_input_tokens,
            "cache_creation_input_tokens": used.cache_write_tokens}


def _input_of(arguments: str) -> Any:
    try:
        return json.loads(arguments) if arguments else {}
    except ValueError:  # cut mid-arguments by max_tokens: given as the model wrote it
        return {"_partial_arguments": arguments}


def message_body(response: LLMResponse) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": response.content}] if response.content else []
    content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": _input_of(c.arguments)}
                for c in response.tool_calls]
    return {"id": f"msg_{response.request_id}", "type": "message", "role": "assistant", "model": response.model or "",
            "content": content, "stop_reason": _STOP_REASON.get(response.finish_reason or "stop", "end_turn"),
            "stop_sequence": None, "usage": _usage(response)}


class MessageEvents:
    """The server-sent events of one streamed message, as Anthropic sends them: message_start, then per
    content block a content_block_start, its deltas and content_block_stop, then message_delta (the stop
    reason and usage) and message_stop. A failure after the stream began is an `error` event."""

    def __init__(self, request_id: str, model: str):
        self._id, self._model = f"msg_{request_id}", model
        self._index = -1
        self._open: str | int | None = None  # "text", or the tool call's own index

    @staticmethod
    def _event(kind: str, data: dict[str, Any]) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

    def opening(self, first: object, model: str | None) -> list[bytes]:
        model = model or self._model
        return [self._event("message_start", {"message": {
            "id": self._id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}})]

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        return [self._event("content_block_stop", {"index": self._index})]

    def piece(self, piece: str | ToolCallFragment) -> list[bytes]:
        frames: list[bytes] = []
        if isinstance(piece, ToolCallFragment):
            if self._open != piece.index:
                frames += self._close()
                self._index += 1
                self._open = piece.index
                frames.append(self._event("content_block_start", {"index": self._index, "content_block": {
                    "type": "tool_use", "id": piece.id or "", "name": piece.name or "", "input": {}}}))
            if piece.arguments:
                frames.append(self._event("content_block_delta", {"index": self._index, "delta": {
                    "type": "input_json_delta", "partial_json": piece.arguments}}))
            return frames
        if self._open != "text":
            frames += self._close()
            self._index += 1
            self._open = "text"
            frames.append(self._event("content_block_start", {"index": self._index,
                                                              "content_block": {"type": "text", "text": ""}}))
        frames.append(self._event("content_block_delta", {"index": self._index,
                                                          "delta": {"type": "text_delta", "text": piece}}))
        return frames

    def end(self, response: LLMResponse) -> list[bytes]:
        return [*self._close(), self._event("message_delta", {
            "delta": {"stop_reason": _STOP_REASON.get(response.finish_reason or "stop", "end_turn"), "stop_sequence": None},
            "usage": _usage(response)}), self._event("message_stop", {})]

    def error(self, message: str, code: str) -> list[bytes]:
        return [self._event("error", error_body(status_for(code), message))]


# Our error codes -> HTTP status, as for the OpenAI endpoint; the type is Anthropic's word for the status.
_STATUS = {
    "invalid_request": 400, "unknown_task_type": 400, "unknown_model": 400, "bad_request": 400,
    "context_length_exceeded": 400, "content_refused": 400, "no_model_fits": 400,
    "approval_rejected": 403, "approval_timeout": 408, "budget_exceeded": 402, "rate_limited": 429,
    "provider_unavailable": 529, "provider_timeout": 504, "no_model_available": 529,
    "authentication_failed": 502, "timeout": 504,
}
_TYPE = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
         404: "not_found_error", 408: "timeout_error", 413: "request_too_large", 429: "rate_limit_error",
         500: "api_error", 502: "api_error", 504: "timeout_error", 529: "overloaded_error"}


def status_for(code: str) -> int:
    return _STATUS.get(code, 500)


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": _TYPE.get(status, "api_error"), "message": message}}
