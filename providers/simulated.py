"""A provider that answers without a network, for demos and benchmarks.

Latency and failures are pure functions of the request id, so a run can be repeated exactly.
Like TensorZero's dummy provider, words in the model name pick a behaviour:
  "slow"   ten times the configured latency
  "flaky"  fails every other request id (by hash) with ProviderUnavailable
  "error"  always fails with ProviderUnavailable
Every result has simulated=True.

Agent traffic: given tools (and a tool_choice other than none), it calls one: the named one, else the
first, with arguments that fit its schema; after a tool result it answers in text. With a JSON
response_format it answers JSON (fitting the schema, if one is given). An answer cut by max_tokens
ends with finish_reason "length".

Prompt caching, as providers bill it: a quarter of requests (by hash) write half their input to the
cache, another quarter read half of it from the cache, so every cost path sees all three rates.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections.abc import AsyncIterator
from dataclasses import replace

from providers.errors import ProviderUnavailable
from providers.schema_example import example_of
from providers.types import ChatRequest, ChatResult, EmbedResult, StreamChunk, ToolCall, ToolCallDelta, Usage

__all__ = ["PROVIDER_TYPE", "SimulatedProvider"]

PROVIDER_TYPE = "simulated"


def _unit(seed: str) -> float:
    """A stable number in [0, 1) from a string."""
    return int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=8).digest(), "big") / 2**64


class SimulatedProvider:
    provider_type = PROVIDER_TYPE

    def __init__(self, *, base_latency_ms: float = 40, jitter_ms: float = 30, error_rate: float = 0.0):
        self._base = base_latency_ms
        self._jitter = jitter_ms
        self._error_rate = error_rate

    async def infer(self, request: ChatRequest) -> ChatResult:
        result, latency_ms = self._answer(request)
        await asyncio.sleep(latency_ms / 1000)
        self._fail_if_down(request)
        return result

    async def infer_stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        """The same answer as infer(), word by word: the first after the first-token delay (30% of the
        latency), the rest spread over what is left of it."""
        result, latency_ms = self._answer(request)
        await asyncio.sleep(result.ttft_ms / 1000)
        self._fail_if_down(request)
        for index, call in enumerate(result.tool_calls):  # a call's id and name first, its arguments in two
            half = len(call.arguments) // 2
            yield StreamChunk(tool_call=ToolCallDelta(index=index, id=call.id, name=call.name))
            for piece in (call.arguments[:half], call.arguments[half:]):
                yield StreamChunk(tool_call=ToolCallDelta(index=index, arguments=piece))
        words = result.content.split(" ") if result.content else []
        gap_s = (latency_ms - result.ttft_ms) / 1000 / max(1, len(words) - 1)
        for i, word in enumerate(words):
            if i:
                await asyncio.sleep(gap_s)
            yield StreamChunk(text=word if i == 0 else " " + word)
        yield StreamChunk(result=replace(result))

    def _answer(self, request: ChatRequest) -> tuple[ChatResult, float]:
        seed = f"{request.request_id}:{request.model}"
        latency_ms = self._base + self._jitter * _unit(seed + ":latency")
        if "slow" in request.model.lower():
            latency_ms *= 10
        prompt_words = sum(len(m.text.split()) for m in request.messages)
        wanted = 20 + int(200 * _unit(seed + ":length"))
        output_tokens = min(request.max_tokens or 256, wanted)
        calls = self._tool_calls(request, seed)
        content = "" if calls else self._content(request, prompt_words)
        finish = "tool_calls" if calls else "length" if output_tokens < wanted and not request.response_format else "stop"
        # Roughly 4 characters a token, the usual rule of thumb for English text.
        input_tokens = max(1, sum(len(m.text) for m in request.messages) // 4)
        cache = _unit(seed + ":cache")
        return ChatResult(
            content=content,
            usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens,
                        cache_write_tokens=input_tokens // 2 if cache < 0.25 else 0,
                        cached_input_tokens=input_tokens // 2 if 0.25 <= cache < 0.5 else 0),
            ttft_ms=latency_ms * 0.3,
            total_ms=latency_ms,
            response_model=request.model,
            finish_reason=finish,
            provider_finish_reason=finish,
            tool_calls=calls,
            simulated=True,
        ), latency_ms

    @staticmethod
    def _tool_calls(request: ChatRequest, seed: str) -> tuple[ToolCall, ...]:
        choice = request.tool_choice
        answered = bool(request.messages) and request.messages[-1].role == "tool"
        if not request.tools or (choice is not None and choice.mode == "none"):
            return ()
        if answered and (choice is None or choice.mode == "auto"):
            return ()
        tool = next((t for t in request.tools if choice is not None and t.name == choice.name), request.tools[0])
        call_id = "call_" + hashlib.blake2b(f"{seed}:{len(request.messages)}".encode(), digest_size=12).hexdigest()
        return (ToolCall(id=call_id, name=tool.name, arguments=json.dumps(example_of(tool.parameters))),)

    @staticmethod
    def _content(request: ChatRequest, prompt_words: int) -> str:
        fmt = request.response_format
        if fmt is not None and fmt.type == "json_schema":
            return json.dumps(example_of(fmt.schema))
        if fmt is not None and fmt.type == "json_object":
            return json.dumps({"model": request.model, "prompt_words": prompt_words})
        if request.messages and request.messages[-1].role == "tool":
            return f"[simulated {request.model}] answer using the tool's result ({len(request.messages[-1].text)} characters)."
        return f"[simulated {request.model}] answer to a {prompt_words}-word prompt."

    async def embed(self, texts: list[str], *, model: str, dimensions: int | None = None,
                    request_id: str = "") -> EmbedResult:
        """Deterministic unit vectors of `dimensions` (the catalog's length) from each text and the model."""
        size = dimensions or 8
        vectors = []
        for text in texts:
            raw = [_unit(f"{model}:{text}:{i}") - 0.5 for i in range(size)]
            norm = math.sqrt(sum(v * v for v in raw)) or 1.0
            vectors.append([round(v / norm, 6) for v in raw])
        latency_ms = self._base + self._jitter * _unit(f"{request_id}:{model}:latency")
        await asyncio.sleep(latency_ms / 1000)
        self._fail_if_down(ChatRequest(model=model, messages=(), request_id=request_id))
        return EmbedResult(vectors=vectors, usage=Usage(input_tokens=sum(max(1, len(t) // 4) for t in texts)),
                           total_ms=latency_ms, simulated=True)

    def _fail_if_down(self, request: ChatRequest) -> None:
        name = request.model.lower()
        roll = _unit(f"{request.request_id}:{request.model}:error")
        if "error" in name or ("flaky" in name and roll < 0.5) or roll < self._error_rate:
            raise ProviderUnavailable(f"simulated outage of {request.model}", provider=PROVIDER_TYPE, status=503)
