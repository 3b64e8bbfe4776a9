"""OpenAI's chat messages, tools and response formats, in the event contract's spelling. Pure.

Everything a client sends is carried or refused by name (BadChatRequest with its param path).
"""

from __future__ import annotations

from typing import Any

__all__ = ["BadChatRequest", "messages_of", "tools_of", "tool_choice_of", "response_format_of", "stop_of"]


class BadChatRequest(ValueError):
    """The body is not a chat-completions request we can serve; the message says why."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


def _part(part: Any, where: str) -> dict[str, Any]:
    if not isinstance(part, dict):
        raise BadChatRequest(f"{where}: a content part must be an object", where)
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": part.get("text")}
    if kind == "image_url":
        image = part.get("image_url")
        if isinstance(image, str):  # some clients send the URL bare
            image = {"url": image}
        if not isinstance(image, dict):
            raise BadChatRequest(f"{where}.image_url: must be an object with a url", f"{where}.image_url")
        return {"type": "image", "url": image.get("url"), **({"detail": image["detail"]} if image.get("detail") else {})}
    if kind == "refusal":  # an assistant turn's earlier refusal, replayed: it is that turn's text
        return {"type": "text", "text": part.get("refusal")}
    raise BadChatRequest(f"{where}.type: content parts of type {kind!r} are not carried (text and image_url are)",
                         f"{where}.type")


def _content(content: Any, where: str) -> Any:
    if isinstance(content, list):
        return [_part(p, f"{where}.{j}") for j, p in enumerate(content)]
    return content


def _tool_call(call: Any, where: str) -> dict[str, Any]:
    if not isinstance(call, dict) or call.get("type", "function") != "function" or not isinstance(call.get("function"), dict):
        raise BadChatRequest(f"{where}: a tool call must be {{\"type\": \"function\", \"function\": {{...}}}}", where)
    function = call["function"]
    return {"id": call.get("id"), "name": function.get("name"), "arguments": function.get("arguments") or "{}"}


_MESSAGE_FIELDS = {"role", "content", "tool_calls", "tool_call_id", "refusal"}


def messages_of(messages: Any) -> Any:
    """OpenAI messages -> the contract's. What is not a list of objects is left for the event's own check."""
    if not isinstance(messages, list):
        return messages
    out = []
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise BadChatRequest(f"{where}: a message must be an object", where)
        if message.get("role") == "function":
            raise BadChatRequest(f"{where}.role: the deprecated function role is not carried; send role \"tool\"",
                                 f"{where}.role")
        for field in message:
            # An empty value asks for nothing: SDKs replay a response's `annotations: []`, `audio: null`.
            if field not in _MESSAGE_FIELDS and message[field] not in (None, [], {}, ""):
                raise BadChatRequest(f"{where}.{field}: not carried (messages carry role, content, tool_calls, "
                                     "tool_call_id)", f"{where}.{field}")
        turn: dict[str, Any] = {"role": message.get("role"), "content": _content(message.get("content"), f"{where}.content")}
        if message.get("refusal") and not turn["content"]:
            turn["content"] = message["refusal"]
        if message.get("tool_calls"):
            calls = message["tool_calls"]
            if not isinstance(calls, list):
                raise BadChatRequest(f"{where}.tool_calls: must be a list", f"{where}.tool_calls")
            turn["tool_calls"] = [_tool_call(c, f"{where}.tool_calls.{j}") for j, c in enumerate(calls)]
        if message.get("tool_call_id") is not None:
            turn["tool_call_id"] = message["tool_call_id"]
        if turn["content"] is None:
            del turn["content"]
        out.append(turn)
    return out


def tools_of(tools: Any) -> Any:
    if not isinstance(tools, list):
        return tools
    out = []
    for i, tool in enumerate(tools):
        where = f"tools.{i}"
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
            raise BadChatRequest(f"{where}: only function tools are carried ({{\"type\": \"function\", \"function\": "
                                 "{...}})", where)
        function = tool["function"]
        out.append({k: v for k, v in {"name": function.get("name"), "description": function.get("description"),
                                      "parameters": function.get("parameters"), "strict": function.get("strict")}.items()
                    if v is not None})
    return out


def tool_choice_of(choice: Any) -> Any:
    if isinstance(choice, dict):
        if choice.get("type") != "function" or not isinstance(choice.get("function"), dict):
            raise BadChatRequest("tool_choice: an object must be {\"type\": \"function\", \"function\": {\"name\": ...}}",
                                 "tool_choice")
        return {"name": choice["function"].get("name")}
    return choice


def response_format_of(fmt: Any) -> Any:
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return fmt
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict):
        raise BadChatRequest("response_format.json_schema: must be an object with the schema",
                             "response_format.json_schema")
    for key in spec:
        if key not in ("name", "schema", "strict"):
            raise BadChatRequest(f"response_format.json_schema.{key}: not carried (name, schema and strict are)",
                                 f"response_format.json_schema.{key}")
    return {k: v for k, v in {"type": "json_schema", "name": spec.get("name"), "schema": spec.get("schema"),
                              "strict": spec.get("strict")}.items() if v is not None}


def stop_of(stop: Any) -> Any:
    return [stop] if isinstance(stop, str) else stop
