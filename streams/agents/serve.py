"""Serve one parsed request: plan the route, call the candidates in order, build the events.

Kept free of Faust so it can be tested with a plain provider and no broker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from providers import ChatRequest, ChatResult, FatalError, ModelNotFound, ProviderError, StreamChunk
from providers.ratelimit import RateLimiter
from streams.agents.answers import cached, ms_since, nothing_left, ttft_ms
from streams.agents.approvals import ApprovalGate
from streams.agents.breakers import LocalBreakers
from streams.agents.budget_gate import BudgetGate
from streams.agents.cache_gate import CacheGate
from streams.agents.cluster_state import ClusterState
from streams.agents.planning import DEFAULT_OUTPUT_TOKENS, Plan, plan_request
from streams.agents.price_book import PriceBook
from streams.agents.provider_call import answer_tool_calls, chat_request, embed, token_usage
from streams.agents.provider_directory import ProviderDirectory, Route
from streams.agents.records import MonitoringLevel, Records
from streams.agents.resilience import (
    BreakerRefused,
    RateLimitedAway,
    ResilientCaller,
    breaker_policy,
    rate_limiters,
    resilient_caller,
)
from streams.agents.streaming import DeltaRelay, StreamCancels, StreamInterrupted, stream_call
from streams.config import HugaiConfig
from streams.events import (
    Attempt,
    AttemptCompleted,
    BudgetRequest,
    CacheEntry,
    ErrorInfo,
    Latency,
    LLMRequest,
    LLMResponse,
    RequestCompleted,
    RouteDecided,
    TokenUsage,
    utcnow,
)
from streams.events.request_keys import cache_key
from streams.routing import RoutingError

__all__ = ["RequestServer", "Served", "Plan", "DEFAULT_OUTPUT_TOKENS"]

log = logging.getLogger(__name__)


@dataclass
class Served:
    """One request's outcome: the response for the caller, the telemetry for ClickHouse, and what its
    calls cost for the budget keeper. All three are published together, once (streams/kafka/outbox.py)."""

    response: LLMResponse
    telemetry: list[RequestCompleted | AttemptCompleted | RouteDecided] = field(default_factory=list)
    settlements: list[BudgetRequest] = field(default_factory=list)
    # The answer, for identical requests to come (streams/agents/cache_gate.py): published with the response.
    shared: CacheEntry | None = None
    shared_idempotently: bool = False


class RequestServer:
    def __init__(
        self,
        *,
        config: HugaiConfig,
        directory: ProviderDirectory,
        environment: str,
        clock: Callable[[], datetime] = utcnow,
        caller: ResilientCaller | None = None,
        state: ClusterState | None = None,
        approvals: ApprovalGate | None = None,
        budgets: BudgetGate | None = None,
        cache: CacheGate | None = None,
        limiters: dict[str, RateLimiter] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        cancels: StreamCancels | None = None,
        monitoring_level: MonitoringLevel | None = None,
    ):
        """`monitoring_level`: what telemetry each request leaves (streams/agents/records.py); by default
        the environment profile's, and everything for an environment without a profile."""
        self._config = config
        self._directory = directory
        self._environment = environment
        self._profile = config.profile(environment)
        self._clock = clock
        self.state = state or ClusterState(LocalBreakers(breaker_policy(config)))
        self._caller = caller or resilient_caller(config, self.state)
        # quick_degradation: no retries on one model, on to the next at once.
        quick = self._profile is not None and self._profile.fallback_strategy == "quick_degradation"
        self._max_attempts = 1 if quick else None
        self._approvals = approvals
        self._budgets = budgets
        self._cache = cache
        self._limiters = rate_limiters(config) if limiters is None else limiters
        self._monotonic = monotonic
        self._cancels = cancels or StreamCancels()
        self._records = Records(environment, config.security_configuration.data_protection.request_logging == "full",
                                monitoring_level or (self._profile.monitoring_level if self._profile else "comprehensive"))
        self._prices = PriceBook(config)
        # provider family -> calls under way now, for the queue-depth samples; model -> the same, for balancing
        self.in_flight: Counter[str] = Counter()
        self.in_flight_models: Counter[str] = Counter()

    def warm_up(self) -> list[str]:
        """Load the price catalog now, not under the first requests; return models it has no price for."""
        return self._prices.warm_up()

    def estimate_cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        return self._prices.estimate(model, input_tokens, output_tokens)

    def plan(self, request: LLMRequest) -> Plan:
        """Route, then the matrix: the order to try, with scores and exclusions. Raises RoutingError."""
        return plan_request(self._config, self._profile, self.state, request, now=self._clock().timestamp(),
                            estimate=self.estimate_cost, in_flight=self.in_flight_models)

    @property
    def shares_answers(self) -> bool:
        """Whether identical requests may share an answer: then they must meet on one partition."""
        strategies = self._config.cost_controls.cost_optimization_strategies
        return self._cache is not None and bool({"cache_similar_requests", "implement_request_deduplication"}
                                                & set(strategies))

    async def serve(self, request: LLMRequest, relay: DeltaRelay | None = None, *, partition: int = 0) -> Served:
        """`relay`: for a streamed request, where its pieces go while the provider call runs. Every piece
        is on the broker when this returns, so none can land after the answer. `partition`: the one of
        llm.requests it came on, whose answers it may share."""
        if relay is None:
            served = await self._serve(request, None, asyncio.Event(), partition)
            served.telemetry = self._records.kept(served.telemetry)
            return served
        cancelled = self._cancels.watch(request.request_id)
        try:
            served = await self._serve(request, relay, cancelled, partition)
        finally:
            self._cancels.forget(request.request_id)
            await relay.flush()
        served.response = served.response.model_copy(update={"stream_id": relay.stream_id})
        served.telemetry = self._records.kept(served.telemetry)
        return served

    @property
    def monitoring_level(self) -> MonitoringLevel:
        return self._records.level

    async def _serve(self, request: LLMRequest, relay: DeltaRelay | None, cancelled: asyncio.Event,
                     partition: int) -> Served:
        started = time.perf_counter()
        try:
            plan = self.plan(request)
        except RoutingError as exc:
            return self._refuse(request, started, "error", ErrorInfo(code=exc.code, message=exc.message))
        ranking = plan.ranking
        excluded = dict(ranking.excluded)
        if not ranking.order and not ranking.degrade:
            return self._refuse(request, started, "rejected", nothing_left(excluded, limited=ranking.limited,
                                                                          rate_limited=plan.rate_limited),
                                plan=plan)
        shared = self._sharing(request, plan)
        if shared is None:
            return await self._serve_planned(request, plan, started, relay, cancelled)
        key, ttl_s, idempotent = shared
        assert self._cache is not None
        found = await self._cache.lookup(key, request.request_id, partition)
        if found.verdict == "hit" and found.answer is not None:
            return self._from_cache(request, plan, started, found.answer)
        if found.verdict != "lead":
            return await self._serve_planned(request, plan, started, relay, cancelled)
        served = None
        try:
            served = await self._serve_planned(request, plan, started, relay, cancelled)
        finally:  # followers wait on this: answer them, whatever happened
            response = served.response if served else None
            answer = cached(response) if response is not None and response.status == "ok" else None
            entry = self._cache.finish(key, request.request_id, answer, ttl_s, partition)
        if entry is not None:
            served.shared, served.shared_idempotently = entry, idempotent
        return served

    def _sharing(self, request: LLMRequest, plan: Plan) -> tuple[str, float, bool] | None:
        """(cache key, how long its answer serves later requests, is an idempotency key), or None when
        nothing is shared."""
        strategies = self._config.cost_controls.cost_optimization_strategies
        caching, dedup = "cache_similar_requests" in strategies, "implement_request_deduplication" in strategies
        if self._cache is None or not (caching or dedup) or not plan.ranking.order:
            return None
        first = self._config.models[plan.ranking.order[0]]
        key, idempotent = cache_key(request, first.capability_class, self._records.who(request)["tenant"])
        settings = self._config.response_caching
        if idempotent:
            return (key, settings.idempotency_ttl.total_seconds(), True) if dedup else None
        if caching:
            return key, settings.ttl.total_seconds(), False
        return key, 0.0, False  # deduplication only: the answer goes to the requests waiting now

    def _from_cache(self, request: LLMRequest, plan: Plan, started: float, answer: dict) -> Served:
        response = LLMResponse(
            request_id=request.request_id, status="ok", model=answer["model"], provider=answer["provider"],
            content=answer["content"], usage=TokenUsage(**answer["usage"]), cost_usd=0.0,
            # Entries written before tool calls were carried have neither field.
            tool_calls=answer.get("tool_calls") or [], finish_reason=answer.get("finish_reason"),
            embeddings=answer.get("embeddings") or [],
            latency_ms=Latency(total=ms_since(started)), simulated=bool(answer["simulated"]), cache_hit=True,
            responded_at=self._clock(),
        )
        return Served(response, [self._records.decided(request, response, plan.ranking, "cache_hit", dict(plan.ranking.excluded)),
                                 self._records.completed(request, response)])

    async def _serve_planned(self, request: LLMRequest, plan: Plan, started: float, relay: DeltaRelay | None,
                             cancelled: asyncio.Event) -> Served:
        ranking = plan.ranking
        excluded = dict(ranking.excluded)
        if self._approvals is not None and ranking.order:
            first = ranking.order[0]
            if self._approvals.needed(request.task_type, plan.estimated_cost[first]):
                decision = await self._approvals.wait(request, model=first, estimated_cost=plan.estimated_cost[first],
                                                      tenant=self._records.who(request)["tenant"])
                if not decision.approved:
                    code = "approval_timeout" if decision.actor == "timeout" else "approval_rejected"
                    return self._refuse(request, started, "rejected", ErrorInfo(
                        code=code, message=f"{request.task_type} needs an operator's approval: {decision.reason}"), plan=plan)

        telemetry: list = []
        settlements: list[BudgetRequest] = []
        attempts: list[Attempt] = []
        last_error: ProviderError | None = None
        response: LLMResponse | None = None
        partial: tuple[Route, ChatResult, float] | None = None  # a stream that broke off: what it produced, and cost
        degraded = False
        budget_refusal: str | None = None
        rate_limited: set[str] = set(plan.rate_limited)
        # The degrade tail is reached only when every candidate failed retryably or was refused
        # (success and fatal errors leave the loop): degrade_gracefully.
        for model in ranking.order + ranking.degrade:
            degraded = degraded or model in ranking.degrade
            route = self._directory.route(model)
            limiter = self._limiters.get(route.spec.provider)
            if limiter is not None and not limiter.acquire(plan.tokens, self._monotonic()):
                excluded[model] = f"rate limit of {route.spec.provider} exhausted"
                rate_limited.add(model)
                continue
            call = chat_request(request, route.spec.api_model) if request.input is None else None

            def record(result: ChatResult | None, error: ProviderError | None, latency_ms: float,
                       model: str = model, route: Route = route) -> None:
                status = "ok" if result is not None else "error"
                attempts.append(Attempt(model=model, provider=route.spec.provider, status=status,
                                        latency_ms=round(latency_ms, 3), error_code=error.code if error else None,
                                        provider_finish_reason=result.provider_finish_reason if result else None))
                billed = result or getattr(error, "partial", None)  # a broken-off stream's tokens are billed
                cost = self._prices.cost(route.spec, billed.usage) if billed is not None else 0.0
                telemetry.append(self._records.attempt(
                    request, len(attempts), self._clock(), attempts[-1], billed.simulated if billed else route.simulated,
                    ttft_ms=billed.ttft_ms if billed else None, usage=billed.usage if billed else None, cost=cost))

            async def invoke(route: Route = route, call: ChatRequest | None = call) -> ChatResult:
                self.in_flight[route.spec.provider] += 1
                self.in_flight_models[route.model] += 1
                try:
                    if call is None:
                        return await embed(route, request)
                    if relay is None:
                        return await route.provider.infer(call)

                    async def piece(chunk: StreamChunk) -> None:
                        await relay.relay(chunk, model=route.model, provider=route.spec.provider)

                    return await stream_call(route.provider.infer_stream(call), call, cancelled, piece)
                finally:
                    self.in_flight[route.spec.provider] -= 1
                    self.in_flight_models[route.model] -= 1

            grant = None
            if self._budgets is not None:
                grant = await self._budgets.reserve(request.request_id, model, route.spec.provider,
                                                    plan.estimated_cost[model])
                if not grant.granted:
                    excluded[model] = f"budget {grant.refusal}"
                    budget_refusal = budget_refusal or grant.refusal
                    continue
            cost = 0.0
            try:
                result = await self._caller.call(model, invoke, record=record, events=telemetry,
                                                 max_attempts=self._max_attempts)
                cost = self._prices.cost(route.spec, result.usage)
            except BreakerRefused:
                excluded[model] = "circuit breaker open"
                continue
            except ModelNotFound as exc:  # the request is not at fault: out of routing everywhere, try the next
                await self.state.breakers.mark_missing(model, missing=True)
                excluded[model] = f"its provider does not serve {route.spec.api_model} (404)"
                last_error = exc
                continue
            except RateLimitedAway as exc:  # a long wait: skipped here, and by every worker till it ends
                excluded[model] = f"rate limited by {route.spec.provider}: asked to wait {exc.wait_s:.0f} s"
                rate_limited.add(model)
                last_error = exc
                continue
            except ProviderError as exc:
                last_error = exc
                if (broken_off := getattr(exc, "partial", None)) is not None:
                    cost = self._prices.cost(route.spec, broken_off.usage)
                    partial = (route, broken_off, cost)
                if isinstance(exc, (FatalError, StreamInterrupted)):  # a stream that began is never spliced
                    break
                continue
            finally:  # settle what the call cost (0 if it failed), which also releases the hold
                if self._budgets is not None and grant is not None:
                    settlements.append(self._budgets.settlement(grant, request.request_id, model,
                                                                route.spec.provider, cost))
            response = LLMResponse(
                request_id=request.request_id,
                status="ok",
                model=model,
                provider=route.spec.provider,
                content=result.content,
                tool_calls=answer_tool_calls(result),
                finish_reason=result.finish_reason,
                usage=token_usage(result.usage),
                embeddings=list(result.embeddings),
                cost_usd=cost,
                latency_ms=Latency(ttft=ttft_ms(result, relay, started), total=ms_since(started)),
                attempts=attempts,
                simulated=result.simulated,
                responded_at=self._clock(),
                usage_estimated=result.usage_estimated,
            )
            break

        if response is None:
            status = "error"
            if last_error is not None:
                error = ErrorInfo(code=last_error.code, message=last_error.message)
            elif budget_refusal is not None:
                status, error = "rejected", ErrorInfo(code="budget_exceeded", message=f"no model fits the budgets: "
                                                      f"{budget_refusal}")
            else:
                error = nothing_left(excluded, limited=ranking.limited, rate_limited=rate_limited)
            response = LLMResponse(
                request_id=request.request_id,
                status=status,
                error=error,
                latency_ms=Latency(total=ms_since(started)),
                attempts=attempts,
                simulated=any(self._directory.route(a.model).simulated for a in attempts),
                responded_at=self._clock(),
            )
            if partial is not None:  # what a broken-off stream produced, and its bill
                route, produced, cost = partial
                response = response.model_copy(update=dict(
                    model=route.model, provider=route.spec.provider, content=produced.content, cost_usd=cost,
                    usage=token_usage(produced.usage),
                    latency_ms=Latency(ttft=ttft_ms(produced, relay, started), total=response.latency_ms.total),
                    usage_estimated=produced.usage_estimated))
        reason = "degraded" if degraded and response.status == "ok" else plan.reason
        telemetry.append(self._records.decided(request, response, plan.ranking, reason, excluded))
        telemetry.append(self._records.completed(request, response))
        return Served(response, telemetry, settlements)

    def _refuse(self, request: LLMRequest, started: float, status: str, error: ErrorInfo, *,
                plan: Plan | None = None) -> Served:
        response = LLMResponse(request_id=request.request_id, status=status, error=error,
                               latency_ms=Latency(total=ms_since(started)), responded_at=self._clock())
        telemetry: list = []
        if plan is not None:
            telemetry.append(self._records.decided(request, response, plan.ranking, plan.reason, dict(plan.ranking.excluded)))
        telemetry.append(self._records.completed(request, response))
        return Served(response, telemetry)
