"""ModelManager: the seed's client, over Kafka. Import it from streams.client.

    model_manager = ModelManager()
    response = model_manager.generate(prompt="...", task_type="requirements_analysis",
                                      quality_threshold=0.9, max_cost_per_request=0.50)
    print(response.content)

Each call publishes an LLMRequest and awaits its LLMResponse on this client's own reply topic.
Failures raise typed errors, each carrying the response when there is one:

LLMError
├── RequestRejected        status "rejected" (an approval refused, a budget, ...)
│   └── BudgetExceeded     error code budget_exceeded
├── GenerationFailed       status "error"; .code says why (provider_unavailable, unknown_task_type, ...)
└── ResponseTimeout        no answer within performance_requirements.max_latency, or the default

stream() / astream() yield the answer's text (and fragments of its tool calls, ToolCallFragment) as the
provider produces it, then the LLMResponse.

Agents pass `tools` (name, description, JSON-schema parameters), `tool_choice` and `response_format` as
the event contract spells them (README, "The event contract"); the response's `tool_calls` are the
calls to run, and their results go back as `{"role": "tool", "tool_call_id": ..., "content": ...}` turns.

Use one instance either synchronously (generate, stream, batch_generate) or from async code
(agenerate, astream, abatch_generate), not both: its Kafka clients belong to one event loop.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import aclosing
from typing import Any

from rich.progress import Progress

from streams.client.reply_client import ReplyClient
from streams.client.reply_client import ResponseTimeout as _ReplyTimeout
from streams.client.stream_follow import StreamDiverged
from streams.config.settings import Settings
from streams.events import ErrorInfo, LLMRequest, LLMResponse, PerformanceRequirements, ToolCallFragment
from streams.routing import DEFAULT_TASK_TYPE

__all__ = ["ModelManager", "LLMError", "RequestRejected", "BudgetExceeded", "GenerationFailed", "ResponseTimeout"]

DEFAULT_TIMEOUT_S = 120.0


class LLMError(Exception):
    def __init__(self, message: str, response: LLMResponse | None = None):
        super().__init__(message)
        self.response = response
        self.code = response.error.code if response is not None and response.error else None


class RequestRejected(LLMError):
    pass


class BudgetExceeded(RequestRejected):
    pass


class GenerationFailed(LLMError):
    pass


class ResponseTimeout(LLMError, TimeoutError):
    pass


def _request(*, request_id: str | None = None, messages: Sequence[dict[str, Any]] | None = None,
             fallback_models: Sequence[str] | None = None, performance_requirements: dict[str, float] | None = None,
             metadata: dict[str, Any] | None = None, **fields: Any) -> LLMRequest:
    return LLMRequest(
        request_id=request_id or str(uuid.uuid4()), messages=list(messages) if messages else None,
        fallback_models=list(fallback_models or []),
        performance_requirements=PerformanceRequirements(**performance_requirements) if performance_requirements else None,
        metadata=metadata or {}, **fields)


def _raise_for(response: LLMResponse) -> LLMResponse:
    if response.status == "ok":
        return response
    error = response.error or ErrorInfo(code=response.status, message=response.status)
    text = f"{response.request_id}: {error.code}: {error.message}"
    if response.status == "rejected":
        raise (BudgetExceeded if error.code == "budget_exceeded" else RequestRejected)(text, response)
    raise GenerationFailed(text, response)


class ModelManager:
    def __init__(self, *, bootstrap: str | None = None, default_timeout: float = DEFAULT_TIMEOUT_S,
                 default_task_type: str = DEFAULT_TASK_TYPE):
        self.bootstrap = bootstrap or Settings().kafka_bootstrap_servers or "127.0.0.1:9092"
        self.default_timeout = default_timeout
        self.default_task_type = default_task_type
        self._client: ReplyClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._starting: asyncio.Lock | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    # ---- async API ----

    async def agenerate(
        self,
        prompt: str | None = None,
        *,
        task_type: str | None = None,
        messages: Sequence[dict[str, Any]] | None = None,
        tools: Sequence[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, str] | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: dict[str, Any] | None = None,
        quality_threshold: float | None = None,
        max_cost_per_request: float | None = None,
        preferred_model: str | None = None,
        fallback_models: Sequence[str] | None = None,
        agent_context: str | None = None,
        performance_requirements: dict[str, float] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        metadata: dict[str, Any] | None = None,
        timeout: float | None = None,
        request_id: str | None = None,
    ) -> LLMResponse:
        """One request; returns the response (its `tool_calls` when the model called tools), or raises an
        LLMError naming what went wrong. A request the contract refuses raises pydantic's ValidationError
        naming the field, before anything is sent."""
        request = _request(
            request_id=request_id, task_type=task_type or self.default_task_type, prompt=prompt, messages=messages,
            tools=list(tools or []), tool_choice=tool_choice, parallel_tool_calls=parallel_tool_calls,
            response_format=response_format, quality_threshold=quality_threshold,
            max_cost_per_request=max_cost_per_request, preferred_model=preferred_model,
            fallback_models=fallback_models, agent_context=agent_context,
            performance_requirements=performance_requirements, max_tokens=max_tokens, temperature=temperature,
            top_p=top_p, stop=list(stop or []), seed=seed, metadata=metadata)
        return _raise_for(await self._send(request, timeout))

    async def aembed(self, texts: str | Sequence[str], *, model: str | None = None, dimensions: int | None = None,
                     task_type: str = "embeddings", metadata: dict[str, Any] | None = None,
                     timeout: float | None = None, request_id: str | None = None) -> LLMResponse:
        """Vectors for `texts`, in order, in `response.embeddings`; `response.model` names the model whose
        vector space they are in. `model` pins one (vectors of two models are not comparable); without it
        the embeddings route chooses, and may fall back to another model."""
        request = _request(request_id=request_id, task_type=task_type, input=[texts] if isinstance(texts, str) else list(texts),
                           dimensions=dimensions, preferred_model=model, fallback_models=[model] if model else None,
                           metadata=metadata)
        return _raise_for(await self._send(request, timeout))

    async def astream(self, prompt: str | None = None, *, timeout: float | None = None,
                      **kwargs: Any) -> AsyncIterator[str | ToolCallFragment | LLMResponse]:
        """A streamed request, with agenerate()'s arguments: yields text deltas (str) and tool-call
        fragments (ToolCallFragment) as the provider produces them, then the final LLMResponse (model,
        usage, cost, the whole tool calls). A stream that ends in an error raises an
        LLMError after its last delta. `timeout` bounds the wait for each next delta. Leaving early
        (break, then aclose, or a cancelled task) stops the provider call; what it produced is billed.

            async with contextlib.aclosing(manager.astream("...")) as stream:
                async for piece in stream:
                    ...
        """
        kwargs.setdefault("task_type", self.default_task_type)
        request = _request(prompt=prompt, **kwargs)
        client = await self._ensure_client()
        wait = self._timeout(request, timeout)
        try:
            async with aclosing(client.stream(request, timeout=wait)) as events:
                async for event in events:
                    yield _raise_for(event) if isinstance(event, LLMResponse) else event
        except _ReplyTimeout:
            raise ResponseTimeout(f"{request.request_id}: no stream event within {wait:g}s") from None
        except StreamDiverged as exc:
            raise GenerationFailed(str(exc), exc.response) from None

    async def abatch_generate(
        self,
        requests: Sequence[str | dict[str, Any]],
        *,
        batch_size: int = 10,
        cost_optimization: bool = True,
        parallel_processing: bool = True,
        progress: bool | None = None,
    ) -> list[LLMResponse]:
        """Responses in input order. A failed item is its error response (status error or rejected), not an
        exception, so one failure never hides the others. Each request is a prompt or a dict of agenerate()
        arguments. At most batch_size run at once (one at a time without parallel_processing)."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        limit = asyncio.Semaphore(batch_size if parallel_processing else 1)
        batch_id = f"batch-{uuid.uuid4().hex[:12]}"
        show = sys.stderr.isatty() if progress is None else progress
        results: list[LLMResponse | None] = [None] * len(requests)
        with Progress(disable=not show, transient=True) as bar:
            task = bar.add_task("LLM requests", total=len(requests))

            async def one(i: int, item: str | dict[str, Any]) -> None:
                kwargs = {"prompt": item} if isinstance(item, str) else dict(item)
                kwargs.setdefault("request_id", f"{batch_id}-{i}")
                if cost_optimization:
                    kwargs["metadata"] = {**kwargs.get("metadata", {}), "cost_optimization": True}
                async with limit:
                    try:
                        results[i] = await self.agenerate(**kwargs)
                    except LLMError as exc:
                        results[i] = exc.response or LLMResponse(
                            request_id=kwargs["request_id"], status="error",
                            error=ErrorInfo(code="timeout" if isinstance(exc, ResponseTimeout) else "error", message=str(exc)))
                bar.advance(task)

            await asyncio.gather(*(one(i, item) for i, item in enumerate(requests)))
        return [r for r in results if r is not None]

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.stop()
            self._client = None

    async def _send(self, request: LLMRequest, timeout: float | None) -> LLMResponse:
        client = await self._ensure_client()
        timeout = self._timeout(request, timeout)
        try:
            return await client.call_one(request, timeout=timeout)
        except _ReplyTimeout:
            raise ResponseTimeout(f"{request.request_id}: no response within {timeout:g}s") from None

    def _timeout(self, request: LLMRequest, timeout: float | None) -> float:
        if timeout is not None:
            return timeout
        wanted = request.performance_requirements.max_latency if request.performance_requirements else None
        return wanted or self.default_timeout

    async def _ensure_client(self) -> ReplyClient:
        loop = asyncio.get_running_loop()
        if self._client_loop is not None and self._client_loop is not loop:
            raise RuntimeError("this ModelManager is bound to another event loop: use either its sync or its async form")
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._client is None:
                self._client = await ReplyClient(self.bootstrap).start()
                self._client_loop = loop
        return self._client

    # ---- sync API: the same calls, run on a private event loop thread ----

    def generate(self, prompt: str | None = None, **kwargs: Any) -> LLMResponse:
        return self._run(self.agenerate(prompt, **kwargs))

    def embed(self, texts: str | Sequence[str], **kwargs: Any) -> LLMResponse:
        return self._run(self.aembed(texts, **kwargs))

    def stream(self, prompt: str | None = None, **kwargs: Any) -> Iterator[str | ToolCallFragment | LLMResponse]:
        """astream(), synchronously: text deltas, then the final LLMResponse. Closing the generator
        early (break, or leaving a with-block around it) stops the provider call."""
        events = self.astream(prompt, **kwargs)
        try:
            while True:
                try:
                    yield self._run(anext(events))
                except StopAsyncIteration:
                    return
        finally:
            self._run(events.aclose())

    def batch_generate(self, requests: Sequence[str | dict[str, Any]], **kwargs: Any) -> list[LLMResponse]:
        return self._run(self.abatch_generate(requests, **kwargs))

    def close(self) -> None:
        if self._thread_loop is not None:
            self._run(self.aclose())
            self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)
            self._thread_loop = None

    def __enter__(self) -> ModelManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, coro):  # noqa: ANN001, ANN202
        if self._thread_loop is None:
            self._thread_loop = asyncio.new_event_loop()
            threading.Thread(target=self._thread_loop.run_forever, name="hugai-model-manager", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coro, self._thread_loop).result()
