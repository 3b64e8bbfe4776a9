"""Anthropic Messages API: system prompt apart from the messages, a version header, max_tokens required."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from providers.errors import BadRequest, ContentRefused, ProviderUnavailable
from providers.finish import normalized
from providers.http import post_json, post_stream, request_json
from providers.keys import KeySource, key_source
from providers.sampling import sampling_fields
from providers.sse import sse_events
from providers.streaming import StreamAccumulator, cut_short
from providers.types import (
    BatchJob,
    ChatRequest,
    ChatResult,
    FinishReason,
    ImagePart,
    Message,
    StreamChunk,
    ToolCall,
    Usage,
)

__all__ = ["PROVIDER_TYPE", "ANTHROPIC_VERSION", "AnthropicProvider", "parse_message", "FINISH_WORDS"]

PROVIDER_TYPE = "anthropic"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
FINISH_WORDS: dict[str, FinishReason] = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter"}


def _usage(usage: dict) -> Usage:
    cached = int(usage.get("cache_read_input_tokens") or 0)
    created = int(usage.get("cache_creation_input_tokens") or 0)
    # Anthropic's input_tokens excludes cache reads and writes; ours counts every input token.
    return Usage(
        input_tokens=int(usage.get("input_tokens") or 0) + cached + created,
        output_tokens=int(usage.get("output_tokens") or 0),
        cached_input_tokens=cached,
        cache_write_tokens=created,
        cache_write_1h_tokens=int((usage.get("cache_creation") or {}).get("ephemeral_1h_input_tokens") or 0),
    )


def parse_message(body: dict, elapsed_ms: float) -> ChatResult:
    try:
        if body.get("stop_reason") == "refusal":
            raise ContentRefused("anthropic refused the request", provider=PROVIDER_TYPE)
        blocks = body["content"]
        text = "".join(block.get("text", "") for block in blocks if block.get("type") == "text")
        calls = tuple(ToolCall(id=b["id"], name=b["name"], arguments=json.dumps(b.get("input") or {}))
                      for b in blocks if b.get("type") == "tool_use")
        return ChatResult(
            content=text,
            usage=_usage(body.get("usage") or {}),
            ttft_ms=elapsed_ms,
            total_ms=elapsed_ms,
            response_model=body.get("model", ""),
            finish_reason=normalized(body.get("stop_reason"), FINISH_WORDS, tool_calls=bool(calls)),
            provider_finish_reason=body.get("stop_reason"),
            tool_calls=calls,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadRequest(f"unreadable message from anthropic: {type(exc).__name__}: {exc}", provider=PROVIDER_TYPE) from None


def _image(part: ImagePart) -> dict:
    inline = part.inline()
    if inline is None:
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    media_type, data = inline
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _blocks(message: Message) -> list[dict]:
    """A message's content as Anthropic blocks: text, image, tool_use, or the tool_result it answers."""
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.text}]
    blocks = [_image(p) if isinstance(p, ImagePart) else {"type": "text", "text": p.text}
              for p in message.parts if isinstance(p, ImagePart) or p.text]
    blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": json.loads(c.arguments or "{}")}
               for c in message.tool_calls]
    return blocks


def wire_messages(messages: tuple[Message, ...]) -> list[dict]:
    """Anthropic's turns alternate user and assistant: tool results are user turns, and turns of one
    role in a row go as one (every result of a parallel call in the turn after the calls)."""
    turns: list[dict] = []
    for message in messages:
        if message.role in ("system", "developer"):
            continue
        role = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += _blocks(message)
        else:
            turns.append({"role": role, "content": _blocks(message)})
    for turn in turns:  # a turn of plain text goes as a string, as the SDK sends it
        if len(turn["content"]) == 1 and turn["content"][0]["type"] == "text":
            turn["content"] = turn["content"][0]["text"]
    return turns


def _tool_choice(request: ChatRequest) -> dict | None:
    choice = request.tool_choice
    wire = None
    if choice is not None:
        wire = ({"type": "tool", "name": choice.name} if choice.mode == "function"
                else {"type": {"auto": "auto", "required": "any", "none": "none"}[choice.mode]})
    if request.parallel_tool_calls is False and (wire is None or wire["type"] != "none"):
        wire = {**(wire or {"type": "auto"}), "disable_parallel_tool_use": True}
    return wire


class AnthropicProvider:
    provider_type = PROVIDER_TYPE

    def __init__(self, *, client: httpx.AsyncClient, base_url: str, api_key: str | KeySource,
                 default_max_tokens: int = DEFAULT_MAX_TOKENS):
        self._client = client
        self._base = base_url.rstrip("/")
        self._url = self._base + "/v1/messages"
        self._key = key_source(api_key)
        self._default_max_tokens = default_max_tokens

    @property
    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self._key() or "", "anthropic-version": ANTHROPIC_VERSION}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r})"

    def request_body(self, request: ChatRequest, *, stream: bool = False) -> dict:
        """The Messages API body. A seed or a response_format never reaches here: Anthropic takes
        neither, and routing keeps such requests off its models (streams/routing/capabilities.py)."""
        system = request.system_text
        body: dict = {
            "model": request.model,
            "max_tokens": request.max_tokens or self._default_max_tokens,
            "messages": wire_messages(request.messages),
        }
        if system:
            body["system"] = system
        if request.temperature is not None:
            body["temperature"] = min(request.temperature, 1.0)  # Anthropic's range is 0..1
        body |= sampling_fields(request, stop="stop_sequences", top_p="top_p", seed=None)
        if request.tools:
            body["tools"] = [{"name": t.name, **({"description": t.description} if t.description else {}),
                              "input_schema": dict(t.parameters)} for t in request.tools]
        if (choice := _tool_choice(request)) is not None:
            body["tool_choice"] = choice
        if stream:
            body["stream"] = True
        return body

    async def infer(self, request: ChatRequest) -> ChatResult:
        body, elapsed_ms = await post_json(self._client, self._url, self.request_body(request),
                                           headers=self._headers, provider=PROVIDER_TYPE)
        return parse_message(body, elapsed_ms)

    async def infer_stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        acc = StreamAccumulator(request, FINISH_WORDS)
        start_usage: dict = {}
        stopped = False
        async with post_stream(self._client, self._url, self.request_body(request, stream=True),
                               headers=self._headers, provider=PROVIDER_TYPE) as response:
            async for event in sse_events(response):
                try:
                    data = json.loads(event.data)
                except ValueError:
                    raise BadRequest("anthropic sent a stream event that is not JSON", provider=PROVIDER_TYPE) from None
                kind = data.get("type")
                if kind == "message_start":
                    message = data.get("message") or {}
                    acc.response_model = message.get("model", "")
                    start_usage = message.get("usage") or {}  # input tokens arrive here
                elif kind == "content_block_start":
                    block = data.get("content_block") or {}
                    if block.get("type") == "tool_use":
                        if piece := acc.tool(data.get("index"), id=block.get("id"), name=block.get("name")):
                            yield piece
                elif kind == "content_block_delta":
                    delta = data.get("delta") or {}
                    if delta.get("type") == "input_json_delta":
                        piece = acc.tool(data.get("index"), arguments=delta.get("partial_json") or "")
                    else:  # text_delta; thinking and signature deltas carry no "text"
                        piece = acc.text(delta.get("text") or "")
                    if piece:
                        yield piece
                elif kind == "message_delta":
                    # The final output count arrives here. Input counts stay message_start's unless this
                    # repeats them: a recorded stream's message_delta says input_tokens 0
                    # (tests/fixtures/tool_calls/anthropic_stream_tool_call.json).
                    acc.finish_reason = (data.get("delta") or {}).get("stop_reason")
                    final = {k: v for k, v in (data.get("usage") or {}).items() if v or k == "output_tokens"}
                    acc.usage = _usage({**start_usage, **final})
                elif kind == "message_stop":
                    stopped = True
                elif kind == "error":
                    error = data.get("error") or {}
                    raise ProviderUnavailable(error.get("message") or "stream error", provider=PROVIDER_TYPE)
            if not stopped:
                raise cut_short(PROVIDER_TYPE, "message_stop")
        yield acc.finish()

    async def list_models(self) -> set[str]:
        """The model ids this key may call: GET /v1/models, every page."""
        found: set[str] = set()
        params: dict[str, str] = {"limit": "1000"}
        while True:
            body, _ = await request_json(self._client, "GET", self._base + "/v1/models", headers=self._headers,
                                         provider=PROVIDER_TYPE, params=params)
            found |= {m["id"] for m in body.get("data") or []}
            if not body.get("has_more") or not body.get("last_id"):
                return found
            params["after_id"] = body["last_id"]

    async def submit_batch(self, requests: list[tuple[str, ChatRequest]]) -> BatchJob:
        """Anthropic's Message Batches API."""
        body = {"requests": [{"custom_id": custom_id, "params": self.request_body(request)} for custom_id, request in requests]}
        batch, _ = await post_json(self._client, self._url + "/batches", body, headers=self._headers, provider=PROVIDER_TYPE)
        return _anthropic_batch(batch)

    async def batch_status(self, batch_id: str) -> BatchJob:
        batch, _ = await request_json(self._client, "GET", f"{self._url}/batches/{batch_id}", headers=self._headers,
                                      provider=PROVIDER_TYPE)
        return _anthropic_batch(batch)


def _anthropic_batch(batch: dict) -> BatchJob:
    counts = batch.get("request_counts") or {}
    return BatchJob(provider=PROVIDER_TYPE, id=batch["id"], status=batch["processing_status"],
                    request_counts={k: int(v) for k, v in counts.items()})
