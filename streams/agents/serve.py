"""Serve one parsed request: plan the route, call the candidates in order, build the events.

Kept free of Faust so it can be tested with a plain provider and no broker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from providers import ChatRequest, FatalError, Message, PriceOverride, ProviderError, UnknownPrice, Usage, cost_usd
from streams.config import ModelSpec
from streams.config import HugaiConfig
from streams.events import Attempt, ErrorInfo, Latency, LLMRequest, LLMResponse, RequestCompleted, TokenUsage, utcnow
from streams.provider_directory import ProviderDirectory
from streams.routing import RoutingError, plan_route

__all__ = ["RequestServer"]

log = logging.getLogger(__name__)


class RequestServer:
    def __init__(
        self,
        *,
        config: HugaiConfig,
        directory: ProviderDirectory,
        environment: str,
        clock: Callable[[], datetime] = utcnow,
    ):
        self._config = config
        self._directory = directory
        self._environment = environment
        self._clock = clock

    def warm_up(self) -> list[str]:
        """Load the price catalog now, not under the first requests; return models it has no price for."""
        unpriced = []
        for spec in self._config.models.values():
            try:
                self._price(spec, Usage(input_tokens=1, output_tokens=1))
            except UnknownPrice:
                unpriced.append(f"{spec.provider}/{spec.api_model}")
        return unpriced

    async def serve(self, request: LLMRequest) -> tuple[LLMResponse, RequestCompleted]:
        started = time.perf_counter()
        try:
            decision = plan_route(self._config, request)
        except RoutingError as exc:
            response = LLMResponse(
                request_id=request.request_id,
                status="error",
                error=ErrorInfo(code=exc.code, message=exc.message),
                latency_ms=Latency(total=_ms_since(started)),
                responded_at=self._clock(),
            )
            return response, self._record(request, response)

        attempts: list[Attempt] = []
        last_error: ProviderError | None = None
        messages = tuple(Message(m.role, m.content) for m in request.chat_messages())
        for model in decision.candidates:
            route = self._directory.route(model)
            call = ChatRequest(
                model=route.spec.api_model,
                messages=messages,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                request_id=request.request_id,
            )
            call_started = time.perf_counter()
            try:
                result = await route.provider.infer(call)
            except ProviderError as exc:
                last_error = exc
                attempts.append(Attempt(model=model, provider=route.spec.provider, status="error",
                                        latency_ms=_ms_since(call_started), error_code=exc.code))
                if isinstance(exc, FatalError):
                    break
                continue
            attempts.append(Attempt(model=model, provider=route.spec.provider, status="ok", latency_ms=result.total_ms))
            response = LLMResponse(
                request_id=request.request_id,
                status="ok",
                model=model,
                provider=route.spec.provider,
                content=result.content,
                usage=TokenUsage(input_tokens=result.usage.input_tokens, output_tokens=result.usage.output_tokens),
                cost_usd=self._cost(route.spec, result.usage),
                latency_ms=Latency(ttft=round(result.ttft_ms, 3), total=_ms_since(started)),
                attempts=attempts,
                simulated=result.simulated,
                responded_at=self._clock(),
            )
            return response, self._record(request, response)

        assert last_error is not None  # every plan has at least one candidate
        response = LLMResponse(
            request_id=request.request_id,
            status="error",
            error=ErrorInfo(code=last_error.code, message=last_error.message),
            latency_ms=Latency(total=_ms_since(started)),
            attempts=attempts,
            simulated=any(self._directory.route(a.model).simulated for a in attempts),
            responded_at=self._clock(),
        )
        return response, self._record(request, response)

    @staticmethod
    def _price(spec: ModelSpec, usage: Usage):  # noqa: ANN205 - Decimal
        override = PriceOverride(**spec.price.model_dump()) if spec.price else None
        return cost_usd(spec.provider, spec.api_model, usage, override)

    def _cost(self, spec: ModelSpec, usage: Usage) -> float:
        try:
            return float(self._price(spec, usage))
        except UnknownPrice:
            # warm_up() already warned about this model at start; the answer still goes out.
            return 0.0

    def _record(self, request: LLMRequest, response: LLMResponse) -> RequestCompleted:
        meta = request.metadata
        return RequestCompleted(
            request_id=request.request_id,
            created_at=request.created_at,
            responded_at=response.responded_at,
            task_type=request.task_type,
            agent_context=request.agent_context or "",
            environment=self._environment,
            tenant=str(meta.get("tenant") or meta.get("team") or ""),
            user=str(meta.get("user") or ""),
            model=response.model or "",
            provider=response.provider or "",
            status=response.status,
            attempts=len(response.attempts),
            fallback_used=len(response.attempts) > 1 and response.status == "ok",
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            cost_usd=response.cost_usd,
            ttft_ms=response.latency_ms.ttft,
            total_ms=response.latency_ms.total,
            error_code=response.error.code if response.error else "",
            simulated=response.simulated,
        )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
