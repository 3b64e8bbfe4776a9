"""Serve one parsed request: plan the route, call the candidates in order, build the events.

Kept free of Faust so it can be tested with a plain provider and no broker.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Set as AbstractSet
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
from providers.ratelimit import RateLimiter
from streams.agents.approvals import ApprovalGate
from streams.agents.breakers import LocalBreakers
from streams.agents.budget_gate import BudgetGate
from streams.agents.cache_gate import CacheGate, cache_key
from streams.agents.cluster_state import ClusterState
from streams.agents.provider_directory import ProviderDirectory, Route
from streams.agents.records import Records
from streams.agents.resilience import BreakerRefused, ResilientCaller, breaker_policy, rate_limiters, resilient_caller
from streams.config import HugaiConfig, ModelSpec
from streams.events import (
    Attempt,
    AttemptCompleted,
    BudgetRequest,
    ErrorInfo,
    Latency,
    LLMRequest,
    LLMResponse,
    RequestCompleted,
    RouteDecided,
    TokenUsage,
    utcnow,
)
from streams.routing import RoutingError, plan_route
from streams.routing.cost_efficiency import applies, cheapest_fit
from streams.routing.scoring import Constraints, Ranking, estimate_tokens, rank

__all__ = ["RequestServer", "Served", "Plan", "DEFAULT_OUTPUT_TOKENS"]

# Output tokens assumed for a request without max_tokens, for estimates and limits.
DEFAULT_OUTPUT_TOKENS = 256

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Plan:
    ranking: Ranking
    reason: str  # routing_strategy | agent_model_mapping | preferred_model | operator_pin | cost_efficiency
    tokens: int  # estimated input + output tokens, for the rate limits
    estimated_cost: dict[str, float]


@dataclass
class Served:
    """One request's outcome: the response for the caller, the telemetry for ClickHouse, and what its
    calls cost for the budget keeper. All three are published together, once (streams/kafka/outbox.py)."""

    response: LLMResponse
    telemetry: list[RequestCompleted | AttemptCompleted | RouteDecided] = field(default_factory=list)
    settlements: list[BudgetRequest] = field(default_factory=list)


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
    ):
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
        self._records = Records(environment, config.security_configuration.data_protection.request_logging == "full")
        self._rates: dict[str, tuple[float, float]] = {}  # model -> USD per input token, per output token
        # provider family -> calls under way now, for the queue-depth samples; model -> the same, for balancing
        self.in_flight: Counter[str] = Counter()
        self.in_flight_models: Counter[str] = Counter()

    def warm_up(self) -> list[str]:
        """Load the price catalog now, not under the first requests; return models it has no price for."""
        unpriced = []
        for model, spec in self._config.models.items():
            try:
                per_input = float(self._price(spec, Usage(input_tokens=1_000_000))) / 1e6
                per_output = float(self._price(spec, Usage(output_tokens=1_000_000))) / 1e6
            except UnknownPrice:
                unpriced.append(f"{spec.provider}/{spec.api_model}")
                per_input = per_output = 0.0
            self._rates[model] = (per_input, per_output)
        return unpriced

    def estimate_cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        if not self._rates:
            self.warm_up()
        per_input, per_output = self._rates.get(model, (0.0, 0.0))
        return input_tokens * per_input + output_tokens * per_output

    def plan(self, request: LLMRequest) -> Plan:
        """Route, then the matrix: the order to try, with scores and exclusions. Raises RoutingError."""
        config, overrides = self._config, self.state.overrides
        route = plan_route(config, request)
        candidates, reason = route.candidates, route.reason
        pinned = overrides.pins.get(request.task_type)
        if pinned in config.models and request.preferred_model is None:
            candidates, reason = (pinned, *(c for c in candidates if c != pinned)), "operator_pin"
        input_tokens = estimate_tokens(request)
        output_tokens = request.max_tokens or DEFAULT_OUTPUT_TOKENS
        profile = self._profile
        complexity = str(request.metadata.get("complexity") or config.task_complexity.get(request.task_type, "complex"))
        unavailable = {m: why for m, s in config.models.items() if (why := overrides.unavailable(m, s.provider))}
        estimated = {m: self.estimate_cost(m, input_tokens, output_tokens) for m in config.models}
        if reason != "operator_pin" and request.preferred_model is None and applies(
                config, complexity, profile.cost_optimization if profile else None):
            threshold = request.quality_threshold or (profile.quality_threshold if profile else 0.0)
            open_now = {m for m in config.models if self.state.breakers.state(m).state != "closed"}
            cheap = cheapest_fit(config, complexity, threshold, estimated_cost=estimated,
                                 available=[m for m in config.models if m not in unavailable and m not in open_now])
            if cheap is not None:
                candidates, reason = (cheap, *(c for c in candidates if c != cheap)), "cost_efficiency"
        constraints = Constraints.of(request, profile_quality=profile.quality_threshold if profile else None,
                                     output_tokens=output_tokens)
        ranking = rank(config, candidates, tuple(m for m in route.degrade if m not in candidates), constraints,
                       estimated_cost=estimated, figures=self.state.figures(), unavailable=unavailable,
                       in_flight=self.in_flight_models)
        return Plan(ranking=ranking, reason=reason, tokens=input_tokens + output_tokens,
                    estimated_cost={m: estimated[m] for m in ranking.order + ranking.degrade})

    async def serve(self, request: LLMRequest) -> Served:
        started = time.perf_counter()
        try:
            plan = self.plan(request)
        except RoutingError as exc:
            return self._refuse(request, started, "error", ErrorInfo(code=exc.code, message=exc.message))
        ranking = plan.ranking
        excluded = dict(ranking.excluded)
        if not ranking.order and not ranking.degrade:
            return self._refuse(request, started, "rejected", _nothing_left(excluded, limited=ranking.limited),
                                plan=plan)
        shared = self._sharing(request, plan)
        if shared is None:
            return await self._serve_planned(request, plan, started)
        key, ttl_s = shared
        assert self._cache is not None
        found = await self._cache.lookup(key, request.request_id)
        if found.verdict == "hit" and found.answer is not None:
            return self._from_cache(request, plan, started, found.answer)
        if found.verdict != "lead":
            return await self._serve_planned(request, plan, started)
        served = None
        try:
            served = await self._serve_planned(request, plan, started)
        finally:  # followers wait on this: answer them, whatever happened
            response = served.response if served else None
            try:
                if response is not None and response.status == "ok":
                    await self._cache.store(key, request.request_id, _cached(response), ttl_s)
                else:
                    await self._cache.abandon(key, request.request_id)
            except Exception as exc:  # noqa: BLE001 - the answer stands; followers time out and serve themselves
                log.error("could not tell the cache keeper about %s: %s", request.request_id, type(exc).__name__)
        return served

    def _sharing(self, request: LLMRequest, plan: Plan) -> tuple[str, float] | None:
        """(cache key, how long its answer serves later requests), or None when nothing is shared."""
        strategies = self._config.cost_controls.cost_optimization_strategies
        caching, dedup = "cache_similar_requests" in strategies, "implement_request_deduplication" in strategies
        if self._cache is None or not (caching or dedup) or not plan.ranking.order:
            return None
        first = self._config.models[plan.ranking.order[0]]
        key, idempotent = cache_key(request, first.capability_class, self._records.who(request)["tenant"])
        settings = self._config.response_caching
        if idempotent:
            return (key, settings.idempotency_ttl.total_seconds()) if dedup else None
        if caching:
            return key, settings.ttl.total_seconds()
        return key, 0.0  # deduplication only: the answer goes to the requests waiting now

    def _from_cache(self, request: LLMRequest, plan: Plan, started: float, answer: dict) -> Served:
        response = LLMResponse(
            request_id=request.request_id, status="ok", model=answer["model"], provider=answer["provider"],
            content=answer["content"], usage=TokenUsage(**answer["usage"]), cost_usd=0.0,
            latency_ms=Latency(total=_ms_since(started)), simulated=bool(answer["simulated"]), cache_hit=True,
            responded_at=self._clock(),
        )
        return Served(response, [self._records.decided(request, response, plan.ranking, "cache_hit", dict(plan.ranking.excluded)),
                                 self._records.completed(request, response)])

    async def _serve_planned(self, request: LLMRequest, plan: Plan, started: float) -> Served:
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
        messages = tuple(Message(m.role, m.content) for m in request.chat_messages())
        degraded = False
        budget_refusal: str | None = None
        rate_limited: set[str] = set()
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
                telemetry.append(self._records.attempt(
                    request, len(attempts), self._clock(), attempts[-1], result.simulated if result else route.simulated,
                    ttft_ms=result.ttft_ms if result else None, usage=result.usage if result else None, cost=cost))

            async def invoke(route: Route = route, call: ChatRequest = call) -> ChatResult:
                self.in_flight[route.spec.provider] += 1
                self.in_flight_models[route.model] += 1
                try:
                    return await route.provider.infer(call)
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
                cost = self._cost(route.spec, result.usage)
            except BreakerRefused:
                excluded[model] = "circuit breaker open"
                continue
            except ProviderError as exc:
                last_error = exc
                if isinstance(exc, FatalError):
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
                usage=TokenUsage(input_tokens=result.usage.input_tokens, output_tokens=result.usage.output_tokens),
                cost_usd=cost,
                latency_ms=Latency(ttft=round(result.ttft_ms, 3), total=_ms_since(started)),
                attempts=attempts,
                simulated=result.simulated,
                responded_at=self._clock(),
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
                error = _nothing_left(excluded, limited=ranking.limited, rate_limited=rate_limited)
            response = LLMResponse(
                request_id=request.request_id,
                status=status,
                error=error,
                latency_ms=Latency(total=_ms_since(started)),
                attempts=attempts,
                simulated=any(self._directory.route(a.model).simulated for a in attempts),
                responded_at=self._clock(),
            )
        reason = "degraded" if degraded and response.status == "ok" else plan.reason
        telemetry.append(self._records.decided(request, response, plan.ranking, reason, excluded))
        telemetry.append(self._records.completed(request, response))
        return Served(response, telemetry, settlements)

    def _refuse(self, request: LLMRequest, started: float, status: str, error: ErrorInfo, *,
                plan: Plan | None = None) -> Served:
        response = LLMResponse(request_id=request.request_id, status=status, error=error,
                               latency_ms=Latency(total=_ms_since(started)), responded_at=self._clock())
        telemetry: list = []
        if plan is not None:
            telemetry.append(self._records.decided(request, response, plan.ranking, plan.reason, dict(plan.ranking.excluded)))
        telemetry.append(self._records.completed(request, response))
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

def _cached(response: LLMResponse) -> dict:
    """What a later identical request is answered with: the answer, never the original's cost or timing."""
    return {"model": response.model, "provider": response.provider, "content": response.content,
            "usage": response.usage.model_dump(), "simulated": response.simulated}


def _nothing_left(excluded: dict[str, str], *, limited: AbstractSet[str] = frozenset(),
                  rate_limited: AbstractSet[str] = frozenset()) -> ErrorInfo:
    """Why nothing served: the request's own limits (no_model_fits), rate limits (rate_limited), or
    models that are down or switched off (no_model_available)."""
    reasons = "; ".join(f"{m}: {r}" for m, r in excluded.items()) or "no candidates"
    kinds = {"limits" if m in limited else "rate" if m in rate_limited else "down" for m in excluded}
    if kinds == {"limits"}:
        return ErrorInfo(code="no_model_fits", message=f"no model can serve this request as asked: {reasons}")
    if "rate" in kinds and "down" not in kinds:
        return ErrorInfo(code="rate_limited", message=f"every candidate is at its rate limit: {reasons}")
    return ErrorInfo(code="no_model_available", message=f"every candidate is unavailable: {reasons}")


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
