"""Google Gemini generateContent and streamGenerateContent (SSE). The key goes in a header, not the URL."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx

from providers.errors import BadRequest, ContentRefused
from providers.finish import normalized
from providers.http import post_json, post_stream, request_json
from providers.keys import KeySource, key_source
from providers.sampling import sampling_fields
from providers.sse import sse_events
from providers.streaming import StreamAccumulator, cut_short
from providers.types import (
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

__all__ = ["PROVIDER_TYPE", "GeminiProvider", "parse_generate_content", "FINISH_WORDS"]

PROVIDER_TYPE = "google"
_BLOCKED = {"SAFETY", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "RECITATION", "IMAGE_SAFETY"}
FINISH_WORDS: dict[str, FinishReason] = {"STOP": "stop", "MAX_TOKENS": "length", **{w: "content_filter" for w in _BLOCKED}}
# Gemini 3 refuses a replayed function call without the thought signature it came with (a 400). An
# OpenAI-shaped history cannot carry the signature back, so each replayed call turn carries the value
# Google documents for calls whose signature is not at hand.
SIGNATURE_NOT_KEPT = "skip_thought_signature_validator"


def _usage(meta: dict | None) -> Usage | None:
    if not meta:
        return None
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    return Usage(
        input_tokens=int(meta.get("promptTokenCount") or 0),
        # Thinking tokens are billed as output.
        output_tokens=int(meta.get("candidatesTokenCount") or 0) + thoughts,
        cached_input_tokens=int(meta.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


def _part(part: object) -> dict:
    if not isinstance(part, ImagePart):
        return {"text": part.text}  # type: ignore[attr-defined]
    inline = part.inline()
    if inline is None:  # routing sends URL images elsewhere; this is the API's own spelling all the same
        return {"fileData": {"fileUri": part.url}}
    return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}


def _function_response(message: Message, names: dict[str, str]) -> dict:
    try:
        result = json.loads(message.text)
    except ValueError:
        result = None
    # functionResponse.response is an object: a tool's JSON object goes as it is, anything else wrapped.
    response = result if isinstance(result, dict) else {"result": message.text}
    return {"functionResponse": {"name": names.get(message.tool_call_id or "", ""), "response": response}}


def _parts(message: Message, names: dict[str, str]) -> list[dict]:
    if message.role == "tool":
        return [_function_response(message, names)]
    parts = [_part(p) for p in message.parts]
    for i, call in enumerate(message.tool_calls):
        part = {"functionCall": {"name": call.name, "args": json.loads(call.arguments or "{}")}}
        if i == 0:  # a turn's signature rides on its first call
            part["thoughtSignature"] = SIGNATURE_NOT_KEPT
        parts.append(part)
    return parts


def wire_contents(request: ChatRequest) -> list[dict]:
    """Gemini's contents: model turns and user turns (a tool's result is a user turn), turns of one role
    in a row merged, so the results of parallel calls answer them together."""
    names = request.tool_names_by_call()
    contents: list[dict] = []
    for message in request.messages:
        if message.role in ("system", "developer"):
            continue
        role = "model" if message.role == "assistant" else "user"
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"] += _parts(message, names)
        else:
            contents.append({"role": role, "parts": _parts(message, names)})
    return contents


_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "function": "ANY"}


def _tool_fields(request: ChatRequest) -> dict:
    body: dict = {}
    if request.tools:
        # parametersJsonSchema takes JSON Schema as it is; `parameters` takes only an OpenAPI subset.
        body["tools"] = [{"functionDeclarations": [
            {"name": t.name, **({"description": t.description} if t.description else {}),
             "parametersJsonSchema": dict(t.parameters)} for t in request.tools]}]
    if (choice := request.tool_choice) is not None:
        config: dict = {"mode": _MODES[choice.mode]}
        if choice.mode == "function":
            config["allowedFunctionNames"] = [choice.name]
        body["toolConfig"] = {"functionCallingConfig": config}
    return body


def _call_id() -> str:
    # Gemini's calls carry no id (or one only some models send): the caller needs one to answer by.
    return "call_" + uuid.uuid4().hex[:24]


def _candidate(body: dict) -> tuple[str, list[dict], str | None]:
    """(text, functionCall objects, finishReason) of the first candidate."""
    feedback = body.get("promptFeedback") or {}
    if feedback.get("blockReason"):
        raise ContentRefused(f"gemini blocked the prompt ({feedback['blockReason']})", provider=PROVIDER_TYPE)
    candidates = body.get("candidates") or []
    if not candidates:
        return "", [], None
    candidate = candidates[0]
    finish = candidate.get("finishReason")
    if finish in _BLOCKED:
        raise ContentRefused(f"gemini stopped the answer ({finish})", provider=PROVIDER_TYPE)
    parts = (candidate.get("content") or {}).get("parts") or []
    text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
    return text, [p["functionCall"] for p in parts if p.get("functionCall")], finish


def _tool_call(call: dict) -> ToolCall:
    return ToolCall(id=call.get("id") or _call_id(), name=call["name"], arguments=json.dumps(call.get("args") or {}))


def parse_generate_content(body: dict, elapsed_ms: float) -> ChatResult:
    try:
        text, calls, finish = _candidate(body)
        tool_calls = tuple(_tool_call(c) for c in calls)
        return ChatResult(
            content=text,
            usage=_usage(body.get("usageMetadata")) or Usage(),
            ttft_ms=elapsed_ms,
            total_ms=elapsed_ms,
            response_model=body.get("modelVersion", ""),
            finish_reason=normalized(finish, FINISH_WORDS, tool_calls=bool(tool_calls)),
            provider_finish_reason=finish,
            tool_calls=tool_calls,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadRequest(f"unreadable generateContent answer: {type(exc).__name__}: {exc}", provider=PROVIDER_TYPE) from None


class GeminiProvider:
    provider_type = PROVIDER_TYPE

    def __init__(self, *, client: httpx.AsyncClient, base_url: str, api_key: str | KeySource):
        self._client = client
        self._base = base_url.rstrip("/")
        self._key = key_source(api_key)

    @property
    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._key() or ""}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base={self._base!r})"

    def request_body(self, request: ChatRequest) -> dict:
        body: dict = {"contents": wire_contents(request), **_tool_fields(request)}
        if system := request.system_text:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        config: dict = {}
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if request.temperature is not None:
            config["temperature"] = request.temperature
        config |= sampling_fields(request, stop="stopSequences", top_p="topP")
        if (fmt := request.response_format) is not None and fmt.type != "text":
            config["responseMimeType"] = "application/json"
            if fmt.type == "json_schema":
                config["responseJsonSchema"] = dict(fmt.schema or {})
        if config:
            body["generationConfig"] = config
        return body

    async def list_models(self) -> set[str]:
        """The model ids this key may call: GET /models, every page, without the "models/" prefix."""
        found: set[str] = set()
        params: dict[str, str] = {"pageSize": "1000"}
        while True:
            body, _ = await request_json(self._client, "GET", self._base + "/models", headers=self._headers,
                                         provider=PROVIDER_TYPE, params=params)
            found |= {str(m.get("name", "")).removeprefix("models/") for m in body.get("models") or []}
            if not body.get("nextPageToken"):
                return found
            params["pageToken"] = body["nextPageToken"]

    async def embed(self, texts: list[str], *, model: str, dimensions: int | None = None) -> EmbedResult:
        """POST models/{model}:batchEmbedContents. Gemini bills embeddings by tokens but reports none:
        they are counted from the text, about 4 characters a token."""
        one = {"outputDimensionality": dimensions} if dimensions is not None else {}
        # role "user" as the google-genai SDK sends it (tests/integration/test_sdk_embed_proof.py).
        wire = {"requests": [{"model": f"models/{model}", "content": {"parts": [{"text": text}], "role": "user"}, **one}
                             for text in texts]}
        body, elapsed_ms = await post_json(self._client, f"{self._base}/models/{model}:batchEmbedContents", wire,
                                           headers=self._headers, provider=PROVIDER_TYPE)
        try:
            vectors = [item["values"] for item in body["embeddings"]]
        except (KeyError, TypeError) as exc:
            raise BadRequest(f"unreadable batchEmbedContents answer: {type(exc).__name__}: {exc}",
                             provider=PROVIDER_TYPE) from None
        if len(vectors) != len(texts):
            raise BadRequest(f"{len(vectors)} vectors for {len(texts)} inputs", provider=PROVIDER_TYPE)
        tokens = sum(max(1, len(text) // 4) for text in texts)
        return EmbedResult(vectors=vectors, usage=Usage(input_tokens=tokens), total_ms=elapsed_ms, usage_estimated=True)

    async def infer(self, request: ChatRequest) -> ChatResult:
        url = f"{self._base}/models/{request.model}:generateContent"
        body, elapsed_ms = await post_json(self._client, url, self.request_body(request), headers=self._headers,
                                           provider=PROVIDER_TYPE)
        return parse_generate_content(body, elapsed_ms)

    async def infer_stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        url = f"{self._base}/models/{request.model}:streamGenerateContent?alt=sse"
        acc = StreamAccumulator(request, FINISH_WORDS)
        async with post_stream(self._client, url, self.request_body(request), headers=self._headers,
                               provider=PROVIDER_TYPE) as response:
            async for event in sse_events(response):
                try:
                    chunk = json.loads(event.data)
                except ValueError:
                    raise BadRequest("gemini sent a stream event that is not JSON", provider=PROVIDER_TYPE) from None
                text, calls, finish = _candidate(chunk)
                for call in calls:  # Gemini sends each call whole, in one chunk
                    whole = _tool_call(call)
                    if piece := acc.tool(object(), id=whole.id, name=whole.name, arguments=whole.arguments):
                        yield piece
                acc.finish_reason = finish or acc.finish_reason
                acc.response_model = chunk.get("modelVersion") or acc.response_model
                # usageMetadata is cumulative and repeated in every chunk: the last one wins.
                acc.usage = _usage(chunk.get("usageMetadata")) or acc.usage
                if piece := acc.text(text):
                    yield piece
            if acc.finish_reason is None:  # the last chunk carries finishReason
                raise cut_short(PROVIDER_TYPE, "finishReason")
        yield acc.finish()
