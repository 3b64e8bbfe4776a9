"""Cohere chat (v2, or the older v1) and embed. Usage follows billed_units, which can differ from tokens."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Literal

import httpx

from providers.errors import BadRequest
from providers.finish import normalized
from providers.http import post_json, post_stream, request_json
from providers.keys import KeySource, key_source
from providers.sampling import sampling_fields
from providers.sse import ndjson_lines, sse_events
from providers.streaming import StreamAccumulator, cut_short
from providers.types import ChatRequest, ChatResult, EmbedResult, FinishReason, ImagePart, Message, StreamChunk, ToolCall, Usage

__all__ = ["PROVIDER_TYPE", "CohereProvider", "parse_v2_chat", "parse_v1_chat", "FINISH_WORDS"]

PROVIDER_TYPE = "cohere"
_V1_ROLES = {"user": "USER", "assistant": "CHATBOT", "system": "SYSTEM", "developer": "SYSTEM"}
FINISH_WORDS: dict[str, FinishReason] = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length",
                                         "TOOL_CALL": "tool_calls"}


def _billed(usage: dict | None) -> Usage | None:
    """Cohere bills billed_units; tokens (which can be far larger) is what the model saw."""
    billed = (usage or {}).get("billed_units")
    if not billed:
        return None
    return Usage(input_tokens=int(billed.get("input_tokens") or 0), output_tokens=int(billed.get("output_tokens") or 0),
                 cached_input_tokens=int((usage or {}).get("cached_tokens") or 0))


def _calls(message: dict) -> tuple[ToolCall, ...]:
    return tuple(ToolCall(id=c["id"], name=c["function"]["name"], arguments=c["function"].get("arguments") or "{}")
                 for c in message.get("tool_calls") or [])


def parse_v2_chat(body: dict, elapsed_ms: float) -> ChatResult:
    try:
        content = body["message"].get("content") or []
        calls = _calls(body["message"])
        return ChatResult(
            content="".join(part.get("text", "") for part in content if part.get("type") == "text"),
            usage=_billed(body.get("usage")) or Usage(),
            ttft_ms=elapsed_ms,
            total_ms=elapsed_ms,
            finish_reason=normalized(body.get("finish_reason"), FINISH_WORDS, tool_calls=bool(calls)),
            provider_finish_reason=body.get("finish_reason"),
            tool_calls=calls,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadRequest(f"unreadable cohere v2 chat answer: {type(exc).__name__}: {exc}", provider=PROVIDER_TYPE) from None


def parse_v1_chat(body: dict, elapsed_ms: float) -> ChatResult:
    try:
        return ChatResult(
            content=body["text"],
            usage=_billed(body.get("meta")) or Usage(),
            ttft_ms=elapsed_ms,
            total_ms=elapsed_ms,
            finish_reason=normalized(body.get("finish_reason"), FINISH_WORDS, tool_calls=False),
            provider_finish_reason=body.get("finish_reason"),
        )
    except (KeyError, TypeError) as exc:
        raise BadRequest(f"unreadable cohere v1 chat answer: {type(exc).__name__}: {exc}", provider=PROVIDER_TYPE) from None


def _v2_message(message: Message) -> dict:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    role = "system" if message.role == "developer" else message.role
    content: str | list = message.content if isinstance(message.content, str) else [
        {"type": "image_url", "image_url": {"url": p.url}} if isinstance(p, ImagePart) else {"type": "text", "text": p.text}
        for p in message.content]
    wire: dict = {"role": role, "content": content}
    if message.tool_calls:
        if not content:
            del wire["content"]
        wire["tool_calls"] = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                              for c in message.tool_calls]
    return wire


def _v2_agent_fields(request: ChatRequest) -> dict:
    body: dict = {}
    tools, choice = request.tools, request.tool_choice
    if choice is not None and choice.mode == "function":
        # Cohere cannot name the one function to call: offering it alone and requiring a call says the same.
        tools = tuple(t for t in tools if t.name == choice.name)
    if tools:
        body["tools"] = [{"type": "function", "function": {
            "name": t.name, **({"description": t.description} if t.description else {}),
            "parameters": dict(t.parameters)}} for t in tools]
    if choice is not None and choice.mode != "auto":
        body["tool_choice"] = "NONE" if choice.mode == "none" else "REQUIRED"
    if (fmt := request.response_format) is not None and fmt.type != "text":
        body["response_format"] = {"type": "json_object"}
        if fmt.type == "json_schema":
            body["response_format"]["json_schema"] = dict(fmt.schema or {})
    return body | sampling_fields(request, stop="stop_sequences", top_p="p")


def _v1_refuses(request: ChatRequest) -> str | None:
    """What the old v1 chat API is not given here: the router carries agent traffic over v2."""
    if request.tools or any(m.tool_calls or m.role == "tool" or m.images for m in request.messages):
        return "tools, tool results and images"
    if request.response_format is not None and request.response_format.type != "text":
        return "response_format"
    return None


class CohereProvider:
    provider_type = PROVIDER_TYPE

    def __init__(self, *, client: httpx.AsyncClient, base_url: str, api_key: str | KeySource,
                 api_version: Literal["v2", "v1"] = "v2"):
        self._client = client
        self._base = base_url.rstrip("/")
        self._version = api_version
        self._key = key_source(api_key)

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key() or ''}"}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base={self._base!r}, api_version={self._version!r})"

    def request_body(self, request: ChatRequest, *, stream: bool = False) -> dict:
        if self._version == "v1":
            if refused := _v1_refuses(request):
                raise BadRequest(f"cohere's v1 chat API is not sent {refused}; use api_version=\"v2\"",
                                 provider=PROVIDER_TYPE)
            *history, last = request.messages
            body: dict = {"model": request.model, "message": last.text, "stream": stream}
            preamble = "\n\n".join(m.text for m in history if m.role in ("system", "developer"))
            if preamble:
                body["preamble"] = preamble
            turns = [{"role": _V1_ROLES[m.role], "message": m.text} for m in history
                     if m.role not in ("system", "developer")]
            if turns:
                body["chat_history"] = turns
            body |= sampling_fields(request, stop="stop_sequences", top_p="p")
        else:
            body = {"model": request.model, "messages": [_v2_message(m) for m in request.messages], "stream": stream,
                    **_v2_agent_fields(request)}
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        return body

    async def list_models(self) -> set[str]:
        """The model ids this key may call: GET /v1/models, every page."""
        found: set[str] = set()
        params: dict[str, str] = {"page_size": "1000"}
        while True:
            body, _ = await request_json(self._client, "GET", self._base + "/v1/models", headers=self._headers,
                                         provider=PROVIDER_TYPE, params=params)
            found |= {m["name"] for m in body.get("models") or []}
            if not body.get("next_page_token"):
                return found
            params["page_token"] = body["next_page_token"]

    async def infer(self, request: ChatRequest) -> ChatResult:
        url = f"{self._base}/{self._version}/chat"
        body, elapsed_ms = await post_json(self._client, url, self.request_body(request), headers=self._headers,
                                           provider=PROVIDER_TYPE)
        return parse_v1_chat(body, elapsed_ms) if self._version == "v1" else parse_v2_chat(body, elapsed_ms)

    async def infer_stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        url = f"{self._base}/{self._version}/chat"
        acc = StreamAccumulator(request, FINISH_WORDS)
        ended = False
        async with post_stream(self._client, url, self.request_body(request, stream=True), headers=self._headers,
                               provider=PROVIDER_TYPE) as response:
            events = ndjson_lines(response) if self._version == "v1" else (e.data async for e in sse_events(response))
            async for raw in events:
                if raw == "[DONE]":  # v2 sends it after message-end
                    continue
                try:
                    data = json.loads(raw)
                except ValueError:
                    raise BadRequest("cohere sent a stream event that is not JSON", provider=PROVIDER_TYPE) from None
                kind = data.get("event_type") or data.get("type")
                if kind == "text-generation":  # v1
                    text = data.get("text") or ""
                elif kind == "content-delta":  # v2
                    text = (((data.get("delta") or {}).get("message") or {}).get("content") or {}).get("text") or ""
                else:
                    text = ""
                ended = ended or kind in ("stream-end", "message-end")
                if kind == "stream-end":  # v1: the usage is in the final response's meta
                    acc.finish_reason = data.get("finish_reason")
                    acc.usage = _billed((data.get("response") or {}).get("meta")) or acc.usage
                elif kind == "message-end":  # v2
                    delta = data.get("delta") or {}
                    acc.finish_reason = delta.get("finish_reason")
                    acc.usage = _billed(delta.get("usage")) or acc.usage
                if kind in ("tool-call-start", "tool-call-delta"):  # v2: one call at a time, by index
                    call = ((data.get("delta") or {}).get("message") or {}).get("tool_calls") or {}
                    function = call.get("function") or {}
                    if piece := acc.tool(data.get("index", 0), id=call.get("id"), name=function.get("name"),
                                         arguments=function.get("arguments") or ""):
                        yield piece
                if piece := acc.text(text):
                    yield piece
            if not ended:
                raise cut_short(PROVIDER_TYPE, "end event")
        yield acc.finish()

    async def embed(self, texts: list[str], *, model: str, dimensions: int | None = None,
                    input_type: str = "search_document") -> EmbedResult:
        started = time.perf_counter()
        wire: dict = {"model": model, "texts": texts, "input_type": input_type, "embedding_types": ["float"]}
        if dimensions is not None:
            wire["output_dimension"] = dimensions
        body, _ = await post_json(self._client, f"{self._base}/v2/embed", wire, headers=self._headers,
                                  provider=PROVIDER_TYPE)
        try:
            vectors = body["embeddings"]["float"]
        except (KeyError, TypeError):
            raise BadRequest("cohere embed answer has no float embeddings", provider=PROVIDER_TYPE) from None
        billed = ((body.get("meta") or {}).get("billed_units") or {}).get("input_tokens") or 0
        return EmbedResult(vectors=vectors, usage=Usage(input_tokens=int(billed)),
                           total_ms=(time.perf_counter() - started) * 1000)
