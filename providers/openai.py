"""OpenAI chat completions. Local OpenAI-compatible servers (Ollama, vLLM, llama.cpp) reuse this class."""

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
    EmbedResult,
    FinishReason,
    ImagePart,
    Message,
    StreamChunk,
    ToolCall,
    Usage,
)

__all__ = ["PROVIDER_TYPE", "OpenAIProvider", "parse_chat_completion", "usage_from", "wire_message", "agent_fields",
           "FINISH_WORDS"]

PROVIDER_TYPE = "openai"
# function_call is the word of the deprecated functions API, which some compatible servers still send.
FINISH_WORDS: dict[str, FinishReason] = {"stop": "stop", "length": "length", "tool_calls": "tool_calls",
                                         "function_call": "tool_calls", "content_filter": "content_filter"}


def usage_from(usage: dict | None) -> Usage | None:
    if not usage:
        return None
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return Usage(
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cached_input_tokens=int(cached),
        reasoning_tokens=int(reasoning),
    )


def _tool_calls(message: dict) -> tuple[ToolCall, ...]:
    return tuple(ToolCall(id=call["id"], name=call["function"]["name"], arguments=call["function"].get("arguments") or "{}")
                 for call in message.get("tool_calls") or [])


def parse_chat_completion(body: dict, elapsed_ms: float, *, provider: str) -> ChatResult:
    try:
        choice = body["choices"][0]
        message = choice["message"]
        word = choice.get("finish_reason")
        if word == "content_filter" or (message.get("refusal") and not message.get("content")):
            raise ContentRefused(f"{provider} refused the request ({message.get('refusal') or word})", provider=provider)
        calls = _tool_calls(message)
        return ChatResult(
            content=message.get("content") or "",
            usage=usage_from(body.get("usage")) or Usage(),
            ttft_ms=elapsed_ms,
            total_ms=elapsed_ms,
            response_model=body.get("model", ""),
            finish_reason=normalized(word, FINISH_WORDS, tool_calls=bool(calls)),
            provider_finish_reason=word,
            tool_calls=calls,
        )
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise BadRequest(f"unreadable chat completion from {provider}: {type(exc).__name__}: {exc}", provider=provider) from None


def _part(part: object) -> dict:
    if isinstance(part, ImagePart):
        image = {"url": part.url} | ({"detail": part.detail} if part.detail else {})
        return {"type": "image_url", "image_url": image}
    return {"type": "text", "text": part.text}  # type: ignore[attr-defined]


def wire_message(message: Message, *, developer_role: bool = True) -> dict:
    """One of our messages in OpenAI's shape. Without `developer_role` (local servers), developer
    turns go as system turns."""
    role = "system" if message.role == "developer" and not developer_role else message.role
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    content: str | list | None = (message.content if isinstance(message.content, str)
                                  else [_part(p) for p in message.content])
    wire: dict = {"role": role, "content": content}
    if message.tool_calls:
        wire["content"] = content or None
        wire["tool_calls"] = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                              for c in message.tool_calls]
    return wire


def agent_fields(request: ChatRequest) -> dict:
    """Tools, tool choice, structured output and the sampling fields, in OpenAI's spelling."""
    body: dict = {}
    if request.tools:
        body["tools"] = [{"type": "function", "function": {
            "name": t.name, **({"description": t.description} if t.description else {}), "parameters": dict(t.parameters),
            **({"strict": t.strict} if t.strict is not None else {})}} for t in request.tools]
    if (choice := request.tool_choice) is not None:
        body["tool_choice"] = ({"type": "function", "function": {"name": choice.name}} if choice.mode == "function"
                               else choice.mode)
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if (fmt := request.response_format) is not None:
        body["response_format"] = {"type": fmt.type}
        if fmt.type == "json_schema":
            body["response_format"]["json_schema"] = {
                "name": fmt.name or "response", "schema": dict(fmt.schema or {}),
                **({"strict": fmt.strict} if fmt.strict is not None else {})}
    return body | sampling_fields(request, stop="stop", top_p="top_p")


class OpenAIProvider:
    """POST {base_url}/chat/completions with a bearer key (none for local servers that need none)."""

    provider_type = PROVIDER_TYPE

    def __init__(self, *, client: httpx.AsyncClient, base_url: str, api_key: str | None | KeySource,
                 provider_type: str = PROVIDER_TYPE):
        self._client = client
        self._base = base_url.rstrip("/")
        self._url = self._base + "/chat/completions"
        self._key = key_source(api_key)
        self.provider_type = provider_type

    @property
    def _headers(self) -> dict[str, str]:
        key = self._key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(url={self._url!r})"

    def request_body(self, request: ChatRequest, *, stream: bool = False) -> dict:
        native = self.provider_type == PROVIDER_TYPE
        body: dict = {
            "model": request.model,
            "messages": [wire_message(m, developer_role=native) for m in request.messages],
        }
        if request.max_tokens is not None:
            # OpenAI's reasoning models refuse max_tokens; local servers know only max_tokens.
            body["max_completion_tokens" if native else "max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        body |= agent_fields(request)
        if stream:
            # Without this OpenAI streams carry no usage at all.
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    async def embed(self, texts: list[str], *, model: str, dimensions: int | None = None) -> EmbedResult:
        """POST {base_url}/embeddings: floats (not base64), ordered by their index."""
        wire: dict = {"model": model, "input": texts, "encoding_format": "float"}
        if dimensions is not None:
            wire["dimensions"] = dimensions
        body, elapsed_ms = await post_json(self._client, self._base + "/embeddings", wire, headers=self._headers,
                                           provider=self.provider_type)
        try:
            vectors = [item["embedding"] for item in sorted(body["data"], key=lambda item: item["index"])]
            tokens = int((body.get("usage") or {}).get("prompt_tokens") or 0)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadRequest(f"unreadable embeddings answer: {type(exc).__name__}: {exc}",
                             provider=self.provider_type) from None
        if len(vectors) != len(texts):
            raise BadRequest(f"{len(vectors)} vectors for {len(texts)} inputs", provider=self.provider_type)
        return EmbedResult(vectors=vectors, usage=Usage(input_tokens=tokens), total_ms=elapsed_ms)

    async def infer(self, request: ChatRequest) -> ChatResult:
        body, elapsed_ms = await post_json(self._client, self._url, self.request_body(request),
                                           headers=self._headers, provider=self.provider_type)
        return parse_chat_completion(body, elapsed_ms, provider=self.provider_type)

    async def infer_stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        acc = StreamAccumulator(request, FINISH_WORDS)
        async with post_stream(self._client, self._url, self.request_body(request, stream=True),
                               headers=self._headers, provider=self.provider_type) as response:
            done = False
            async for event in sse_events(response):
                if event.data == "[DONE]":
                    done = True
                    break
                try:
                    chunk = json.loads(event.data)
                except ValueError:
                    raise BadRequest(f"{self.provider_type} sent a stream event that is not JSON", provider=self.provider_type) from None
                if isinstance(chunk.get("error"), dict):  # a failure after the stream began: OpenAI's in-stream error
                    message = str(chunk["error"].get("message") or "stream error")
                    raise ProviderUnavailable(f"{self.provider_type} failed mid-stream: {message}", provider=self.provider_type)
                acc.response_model = chunk.get("model") or acc.response_model
                acc.usage = usage_from(chunk.get("usage")) or acc.usage
                for choice in chunk.get("choices") or []:
                    acc.finish_reason = choice.get("finish_reason") or acc.finish_reason
                    delta = choice.get("delta") or {}
                    if piece := acc.text(delta.get("content") or ""):
                        yield piece
                    for call in delta.get("tool_calls") or []:
                        function = call.get("function") or {}
                        if piece := acc.tool(call.get("index", 0), id=call.get("id"), name=function.get("name"),
                                             arguments=function.get("arguments") or ""):
                            yield piece
            if not done:
                raise cut_short(self.provider_type, "[DONE]")
        yield acc.finish()

    async def list_models(self) -> set[str]:
        """The model ids this key may call: GET /models (local servers answer it too)."""
        body, _ = await request_json(self._client, "GET", self._base + "/models", headers=self._headers,
                                     provider=self.provider_type)
        return {m["id"] for m in body.get("data") or []}

    async def submit_batch(self, requests: list[tuple[str, ChatRequest]]) -> BatchJob:
        """OpenAI's Batch API: upload the requests as a JSONL file, then create a batch over it."""
        lines = [
            json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                        "body": self.request_body(request)})
            for custom_id, request in requests
        ]
        upload, _ = await request_json(
            self._client, "POST", self._base + "/files", headers=self._headers, provider=self.provider_type,
            files={"file": ("batch.jsonl", "\n".join(lines).encode(), "application/jsonl")}, data={"purpose": "batch"},
        )
        batch, _ = await post_json(
            self._client, self._base + "/batches",
            {"input_file_id": upload["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"},
            headers=self._headers, provider=self.provider_type,
        )
        return _openai_batch(batch, self.provider_type)

    async def batch_status(self, batch_id: str) -> BatchJob:
        batch, _ = await request_json(self._client, "GET", f"{self._base}/batches/{batch_id}",
                                      headers=self._headers, provider=self.provider_type)
        return _openai_batch(batch, self.provider_type)


def _openai_batch(batch: dict, provider: str) -> BatchJob:
    counts = batch.get("request_counts") or {}
    return BatchJob(provider=provider, id=batch["id"], status=batch["status"],
                    request_counts={k: int(v) for k, v in counts.items()})
