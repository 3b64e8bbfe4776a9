"""A provider that answers without a network, for demos and benchmarks.

Latency and failures are pure functions of the request id, so a run can be repeated exactly.
Like TensorZero's dummy provider, words in the model name pick a behaviour:
  "slow"   ten times the configured latency
  "flaky"  fails every other request id (by hash) with ProviderUnavailable
  "error"  always fails with ProviderUnavailable
Every result has simulated=True.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace

from providers.errors import ProviderUnavailable
from providers.types import ChatRequest, ChatResult, StreamChunk, Usage

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
        words = result.content.split(" ")
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
        prompt_words = sum(len(m.content.split()) for m in request.messages)
        output_tokens = min(request.max_tokens or 256, 20 + int(200 * _unit(seed + ":length")))
        content = f"[simulated {request.model}] answer to a {prompt_words}-word prompt."
        return ChatResult(
            content=content,
            # Roughly 4 characters a token, the usual rule of thumb for English text.
            usage=Usage(input_tokens=max(1, sum(len(m.content) for m in request.messages) // 4), output_tokens=output_tokens),
            ttft_ms=latency_ms * 0.3,
            total_ms=latency_ms,
            response_model=request.model,
            finish_reason="stop",
            simulated=True,
        ), latency_ms

    def _fail_if_down(self, request: ChatRequest) -> None:
        name = request.model.lower()
        roll = _unit(f"{request.request_id}:{request.model}:error")
        if "error" in name or ("flaky" in name and roll < 0.5) or roll < self._error_rate:
            raise ProviderUnavailable(f"simulated outage of {request.model}", provider=PROVIDER_TYPE, status=503)
