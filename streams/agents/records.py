"""What a served request leaves on the record: the route decision, each attempt, and the completed request.

Metadata only, unless security_configuration says request_logging: full. How much of it is kept is
the environment profile's monitoring_level (or HUGAI_MONITORING_LEVEL):
  basic          the completed request (its row feeds the rollups too)
  detailed       and each attempt, and the route decision: candidates, the choice, exclusions and why
  comprehensive  and each candidate's decision-matrix score and quality figure in the decision
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from providers import Usage
from streams.events import Attempt, AttemptCompleted, LLMRequest, LLMResponse, RequestCompleted, RouteDecided
from streams.routing.scoring import Ranking, estimate_tokens

__all__ = ["Records", "MonitoringLevel", "LEVELS", "LEVEL_RECORDS"]

MonitoringLevel = Literal["basic", "detailed", "comprehensive"]
LEVELS: tuple[MonitoringLevel, ...] = ("basic", "detailed", "comprehensive")
# What each level records, for the worker's start log and the README.
LEVEL_RECORDS = {
    "basic": "requests and the rollups, feedback, breaker, budget, operator and security events",
    "detailed": "basic, plus attempts, routing decisions and queue-depth samples",
    "comprehensive": "detailed, plus every candidate's score and quality figure in each routing decision",
}


def routing_inputs(request: LLMRequest) -> dict:
    """What routing reads from a request besides its task and agent, as RequestCompleted keeps it."""
    wants = request.performance_requirements
    complexity = request.metadata.get("complexity")
    return {"preferred_model": request.preferred_model or "", "fallback_models": list(request.fallback_models),
            "quality_threshold": request.quality_threshold, "min_quality": wants.min_quality if wants else None,
            "max_cost_usd": request.max_cost_per_request,
            "max_latency_ms": wants.max_latency * 1000 if wants and wants.max_latency else None,
            "max_tokens": request.max_tokens, "complexity": complexity if isinstance(complexity, str) else "",
            "estimated_input_tokens": estimate_tokens(request), "embedding_inputs": len(request.input or ())}


@dataclass(frozen=True, slots=True)
class Records:
    environment: str
    log_text: bool  # request_logging: full
    level: MonitoringLevel = "comprehensive"

    def kept(self, events: list[RequestCompleted | AttemptCompleted | RouteDecided]
             ) -> list[RequestCompleted | AttemptCompleted | RouteDecided]:
        """What this monitoring level keeps of one request's events."""
        if self.level == "comprehensive":
            return events
        if self.level == "basic":
            return [e for e in events if isinstance(e, RequestCompleted)]
        return [e.model_copy(update={"scores": {}, "quality": {}, "quality_judgments": {}})
                if isinstance(e, RouteDecided) else e for e in events]

    def decided(self, request: LLMRequest, response: LLMResponse, ranking: Ranking, reason: str,
                 excluded: dict[str, str]) -> RouteDecided:
        return RouteDecided(
            request_id=request.request_id, decided_at=response.responded_at, environment=self.environment,
            task_type=request.task_type, agent_context=request.agent_context or "", reason=reason,
            candidates=list(ranking.order), chosen_model=response.model or "", excluded=excluded,
            scores={m: ranking.scores[m] for m in (*ranking.order, *ranking.degrade, *excluded) if m in ranking.scores},
            quality={m: q for m, (q, _) in ranking.quality.items()},
            quality_judgments={m: n for m, (_, n) in ranking.quality.items()},
            **self.who(request),
        )

    @staticmethod
    def who(request: LLMRequest) -> dict[str, str]:
        meta = request.metadata
        return {"tenant": str(meta.get("tenant") or meta.get("team") or ""), "user": str(meta.get("user") or "")}

    def attempt(self, request: LLMRequest, number: int, at: datetime, attempt: Attempt, simulated: bool, *,
                 ttft_ms: float | None = None, usage: Usage | None = None, cost: float = 0.0) -> AttemptCompleted:
        usage = usage or Usage()
        return AttemptCompleted(
            attempt_id=f"{request.request_id}:{number}", request_id=request.request_id, attempt=number, started_at=at,
            environment=self.environment, task_type=request.task_type, agent_context=request.agent_context or "",
            model=attempt.model, provider=attempt.provider,
            status=attempt.status, error_code=attempt.error_code or "", latency_ms=attempt.latency_ms, ttft_ms=ttft_ms,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens, reasoning_tokens=usage.reasoning_tokens, cost_usd=cost,
            simulated=simulated, provider_finish_reason=attempt.provider_finish_reason or "", **self.who(request),
        )

    def completed(self, request: LLMRequest, response: LLMResponse) -> RequestCompleted:
        text = {}
        if self.log_text:  # only when security_configuration says request_logging: full
            text = {"prompt_text": "\n".join(m.text for m in request.chat_messages()),
                    "completion_text": response.content or ""}
        return RequestCompleted(
            request_id=request.request_id,
            created_at=request.created_at,
            responded_at=response.responded_at,
            task_type=request.task_type,
            agent_context=request.agent_context or "",
            environment=self.environment,
            model=response.model or "",
            provider=response.provider or "",
            status=response.status,
            attempts=len(response.attempts),
            fallback_used=len(response.attempts) > 1 and response.status == "ok",
            cache_hit=response.cache_hit,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            cached_input_tokens=response.usage.cached_input_tokens,
            cache_write_tokens=response.usage.cache_write_tokens,
            reasoning_tokens=response.usage.reasoning_tokens,
            cost_usd=response.cost_usd,
            ttft_ms=response.latency_ms.ttft,
            total_ms=response.latency_ms.total,
            error_code=response.error.code if response.error else "",
            simulated=response.simulated,
            streamed=request.stream,
            usage_estimated=response.usage_estimated,
            tools_offered=len(request.tools),
            tool_calls=len(response.tool_calls),
            images=request.images,
            response_format=request.response_format.type if request.response_format else "",
            finish_reason=response.finish_reason or "",
            **routing_inputs(request),
            **self.who(request),
            **text,
        )
