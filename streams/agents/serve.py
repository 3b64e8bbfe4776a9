"""Serve one parsed request: plan the route, call the candidates in order, build the events.

Kept free of Faust so it can be tested with a plain provider and no broker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from providers import (
    ChatRequest,
    ChatResult,
    FatalError,
    Message,
    PriceOverride,
    ProviderError,
    UnknownPrice,
    Usage,
    cost_usd,
)
from streams.config import ModelSpec
from streams.config import HugaiConfig
from streams.events import (
    Attempt,
    AttemptCompleted,
    ErrorInfo,
    Latency,
    LLMRequest,
    LLMResponse,
    RequestCompleted,
    RouteDecided,
    TokenUsage,
    utcnow,
)
from streams.agents.resilience import BreakerRefused, ResilientCaller
from streams.provider_directory import ProviderDirectory, Route
from streams.routing.backoff import BackoffPolicy
from streams.routing.breaker import BreakerPolicy
from streams.routing import RoutingError, plan_route

__all__ = ["RequestServer", "Served", "resilient_caller"]

log = logging.getLogger(__name__)


@dataclass
class Served:
    """One request's outcome: the response for the caller, and the telemetry for ClickHouse."""

    response: LLMResponse
    telemetry: list[RequestCompleted | AttemptCompleted | RouteDecided] = field(default_factory=list)


class RequestServer:
    def __init__(
        self,
        *,
        config: HugaiConfig,
        directory: ProviderDirectory,
        environment: str,
        clock: Callable[[], datetime] = utcnow,
        caller: ResilientCaller | None = None,
    ):
        self._config = config
        self._directory = directory
        self._environment = environment
        self._clock = clock
        self._caller = caller or resilient_caller(config)
        self._log_text = config.security_configuration.data_protection.request_logging == "full"
        # provider family -> calls under way now, for the queue-depth samples
        self.in_flight: Counter[str] = Counter()

    def warm_up(self) -> list[str]:
        """Load the price catalog now, not under the first requests; return models it has no price for."""
        unpriced = []
        for spec in self._config.models.values():
            try:
                self._price(spec, Usage(input_tokens=1, output_tokens=1))
            except UnknownPrice:
                unpriced.append(f"{spec.provider}/{spec.api_model}")
        return unpriced

    async def serve(self, request: LLMRequest) -> Served:
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
            return Served(response, [self._record(request, response)])

        telemetry: list = []
        attempts: list[Attempt] = []
        excluded: dict[str, str] = {}
        last_error: ProviderError | None = None
        response: LLMResponse | None = None
        messages = tuple(Message(m.role, m.content) for m in request.chat_messages())
        degraded = False
        # The degrade tail is reached only when every candidate failed retryably or was refused
        # (success and fatal errors leave the loop): degrade_gracefully.
        for model in decision.candidates + decision.degrade:
            degraded = degraded or model in decision.degrade
            route = self._directory.route(model)
            call = ChatRequest(
                model=route.spec.api_model,
                messages=messages,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                request_id=request.request_id,
            )

            def record(result: ChatResult | None, error: ProviderError | None, latency_ms: float,
                       model: str = model, route: Route = route) -> None:
                status = "ok" if result is not None else "error"
                attempts.append(Attempt(model=model, provider=route.spec.provider, status=status,
                                        latency_ms=round(latency_ms, 3), error_code=error.code if error else None))
                cost = self._cost(route.spec, result.usage) if result is not None else 0.0
                telemetry.append(self._attempt(
                    request, len(attempts), self._clock(), attempts[-1], result.simulated if result else route.simulated,
                    ttft_ms=result.ttft_ms if result else None, usage=result.usage if result else None, cost=cost))

            async def invoke(route: Route = route, call: ChatRequest = call) -> ChatResult:
                self.in_flight[route.spec.provider] += 1
                try:
                    return await route.provider.infer(call)
                finally:
                    self.in_flight[route.spec.provider] -= 1

            try:
                result = await self._caller.call(model, invoke, record=record, events=telemetry)
            except BreakerRefused:
                excluded[model] = "circuit breaker open"
                continue
            except ProviderError as exc:
                last_error = exc
                if isinstance(exc, FatalError):
                    break
                continue
            cost = self._cost(route.spec, result.usage)
            response = LLMResponse(
                request_id=request.request_id,
                status="ok",
                model=model,
                provider=route.spec.provider,
                content=result.content,
                usage=TokenUsage(input_tokens=result.usage.input_tokens, output_tokens=result.usage.output_tokens),
                cost_usd=cost,
                latency_ms=Latency(ttft=round(result.ttft_ms, 3), total=_ms_since(started)),
                attempts=attempts,
                simulated=result.simulated,
                responded_at=self._clock(),
            )
            break

        if response is None:
            error = (ErrorInfo(code=last_error.code, message=last_error.message) if last_error is not None else
                     ErrorInfo(code="no_model_available",
                               message="every candidate is unavailable: " + "; ".join(f"{m}: {r}" for m, r in excluded.items())))
            response = LLMResponse(
                request_id=request.request_id,
                status="error",
                error=error,
                latency_ms=Latency(total=_ms_since(started)),
                attempts=attempts,
                simulated=any(self._directory.route(a.model).simulated for a in attempts),
                responded_at=self._clock(),
            )
        meta = self._who(request)
        telemetry.append(RouteDecided(
            request_id=request.request_id, decided_at=response.responded_at, environment=self._environment,
            task_type=request.task_type, agent_context=request.agent_context or "",
            reason="degraded" if degraded and response.status == "ok" else decision.reason,
            candidates=list(decision.candidates), chosen_model=response.model or "", excluded=excluded, **meta,
        ))
        telemetry.append(self._record(request, response))
        return Served(response, telemetry)

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

    @staticmethod
    def _who(request: LLMRequest) -> dict[str, str]:
        meta = request.metadata
        return {"tenant": str(meta.get("tenant") or meta.get("team") or ""), "user": str(meta.get("user") or "")}

    def _attempt(self, request: LLMRequest, number: int, at: datetime, attempt: Attempt, simulated: bool, *,
                 ttft_ms: float | None = None, usage: Usage | None = None, cost: float = 0.0) -> AttemptCompleted:
        usage = usage or Usage()
        return AttemptCompleted(
            attempt_id=f"{request.request_id}:{number}", request_id=request.request_id, attempt=number, started_at=at,
            environment=self._environment, task_type=request.task_type, agent_context=request.agent_context or "",
            model=attempt.model, provider=attempt.provider,
            status=attempt.status, error_code=attempt.error_code or "", latency_ms=attempt.latency_ms, ttft_ms=ttft_ms,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, cost_usd=cost, simulated=simulated,
            **self._who(request),
        )

    def _record(self, request: LLMRequest, response: LLMResponse) -> RequestCompleted:
        text = {}
        if self._log_text:  # only when security_configuration says request_logging: full
            text = {"prompt_text": "\n".join(m.content for m in request.chat_messages()),
                    "completion_text": response.content or ""}
        return RequestCompleted(
            request_id=request.request_id,
            created_at=request.created_at,
            responded_at=response.responded_at,
            task_type=request.task_type,
            agent_context=request.agent_context or "",
            environment=self._environment,
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
            **self._who(request),
            **text,
        )


def resilient_caller(config: HugaiConfig) -> ResilientCaller:
    """Retries and breakers as the config says: retry_with_exponential_backoff and circuit_breaker."""
    retry = config.retry_action()
    backoff = BackoffPolicy(
        max_attempts=(retry.max_attempts or 1) if retry else 1,
        initial_delay_s=retry.initial_delay.total_seconds() if retry and retry.initial_delay else 1.0,
        max_delay_s=retry.max_delay.total_seconds() if retry and retry.max_delay else 60.0,
    )
    breaker = BreakerPolicy(failure_threshold=config.circuit_breaker.failure_threshold,
                            recovery_timeout_s=config.circuit_breaker.recovery_timeout.total_seconds())
    return ResilientCaller(backoff=backoff, breaker=breaker)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
