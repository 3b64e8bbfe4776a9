"""The seed spec's YAML blocks as typed pydantic models, plus the model catalog they refer to.

Read through streams.config.loading.load_config, which also checks what one block says of another.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from streams.config.units import Duration, Money

__all__ = [
    "ConfigError",
    "HugaiConfig",
    "ModelSpec",
    "RouteRule",
    "EnvironmentProfile",
    "HumanOversight",
    "DEFAULT_CONFIG_PATH",
    "PROVIDER_FAMILIES",
]

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[2] / "config" / "models.yaml"
PROVIDER_FAMILIES = ("openai", "anthropic", "google", "cohere", "local")
ProviderFamily = Literal["openai", "anthropic", "google", "cohere", "local"]


class ConfigError(ValueError):
    """The configuration file cannot be used. `problems` holds one 'key: reason' line each."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"invalid config {source}:\n  " + "\n  ".join(problems))


class _Strict(BaseModel):
    # validate_default: defaults such as "300s" go through the same parsers as the file's values.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class RouteRule(_Strict):
    primary: str
    fallback: list[str] = []
    criteria: str = ""


class Criterion(_Strict):
    weight: float = Field(ge=0, le=1)
    factors: list[str]


class SelectionCriteria(_Strict):
    cost_sensitivity: Criterion
    performance_requirements: Criterion
    quality_expectations: Criterion
    specialized_capabilities: Criterion

    def weights(self) -> dict[str, float]:
        return {name: getattr(self, name).weight for name in type(self).model_fields}


class MonthlyLimits(_Strict):
    total_budget: Money
    provider_caps: dict[str, Money] = {}


CostStrategy = Literal[
    "cache_similar_requests",
    "batch_processing_when_possible",
    "use_cheaper_models_for_simple_tasks",
    "implement_request_deduplication",
]


class CostControls(_Strict):
    daily_budgets: dict[str, Money] = {}
    monthly_limits: MonthlyLimits
    cost_optimization_strategies: list[CostStrategy] = []


class FailureAction(_Strict):
    action: Literal["retry_with_exponential_backoff", "switch_to_secondary_model", "degrade_gracefully"]
    max_attempts: int | None = Field(default=None, ge=1)
    initial_delay: Duration | None = None
    max_delay: Duration | None = None
    condition: str | None = None
    selection_criteria: str | None = None
    fallback_to: str | None = None


class FallbackConfiguration(_Strict):
    primary_failure_handling: list[FailureAction]
    cascading_fallback_chain: dict[str, list[str]]

    @field_validator("cascading_fallback_chain")
    @classmethod
    def _tiers_are_numbered(cls, chain: dict[str, list[str]]) -> dict[str, list[str]]:
        for name in chain:
            if not (name.startswith("tier_") and name[5:].isdigit()):
                raise ValueError(f"tier names look like 'tier_1', got {name!r}")
        return chain


class AgentAssignment(_Strict):
    primary: str
    reasoning: str = ""


class EnvironmentProfile(_Strict):
    cost_optimization: Literal["aggressive", "balanced", "quality_first"]
    quality_threshold: float = Field(ge=0, le=1)
    fallback_strategy: Literal["quick_degradation", "graceful_degradation", "maximum_resilience"]
    monitoring_level: Literal["basic", "detailed", "comprehensive"]


class ApiKeyManagement(_Strict):
    rotation_frequency: Duration
    storage: str
    access_control: str


class DataProtection(_Strict):
    request_logging: Literal["metadata_only", "full"]
    response_caching: str
    data_retention: Duration


class SecurityConfiguration(_Strict):
    api_key_management: ApiKeyManagement
    data_protection: DataProtection
    compliance_requirements: list[str] = []


class ModelPrice(_Strict):
    """USD per million tokens; overrides the genai-prices catalog for this model. Cache reads and writes
    default to the input rate, one-hour cache writes to the cache-write rate, reasoning to the output rate."""

    input_per_mtok: Decimal = Field(ge=0)
    output_per_mtok: Decimal = Field(ge=0)
    cached_input_per_mtok: Decimal | None = Field(default=None, ge=0)
    cache_write_per_mtok: Decimal | None = Field(default=None, ge=0)
    cache_write_1h_per_mtok: Decimal | None = Field(default=None, ge=0)
    reasoning_per_mtok: Decimal | None = Field(default=None, ge=0)


class ModelSpec(_Strict):
    provider: ProviderFamily
    api_model: str
    tier: int = Field(ge=1, le=4)
    capability_class: str
    context_length: int = Field(gt=0)
    function_calling: bool = False
    vision: bool = False  # reads image parts
    json_mode: bool = False  # can be held to JSON output (response_format json_object)
    structured_output: bool = False  # can be held to a JSON schema (json_schema); implies json_mode
    # An embedding model: the length of its vectors, and how many texts its API takes in one call.
    embedding_dimensions: int | None = Field(default=None, gt=0)
    max_inputs: int | None = Field(default=None, gt=0)
    price: ModelPrice | None = None

    @property
    def embeds(self) -> bool:
        return self.embedding_dimensions is not None

    @model_validator(mode="after")
    def _embeds_where_it_can(self) -> ModelSpec:
        if self.embeds and self.provider == "anthropic":
            raise ValueError("anthropic has no embeddings API: an embedding model is openai, google, cohere or local")
        return self


class RateLimits(_Strict):
    requests_per_minute: int = Field(gt=0)
    tokens_per_minute: int = Field(gt=0)


class ProviderSpec(_Strict):
    base_url: str
    rate_limits: RateLimits | None = None


class LatencyProfile(_Strict):
    base: float = Field(default=40, ge=0)
    jitter: float = Field(default=30, ge=0)


class SimulatedSpec(_Strict):
    latency_ms: LatencyProfile = LatencyProfile()
    error_rate: float = Field(default=0.0, ge=0, le=1)


class HttpSpec(_Strict):
    connect_timeout: Duration = "5s"  # type: ignore[assignment]
    read_timeout: Duration = "60s"  # type: ignore[assignment]


class ApiKeySpec(_Strict):
    """Where one API key lives (never the key itself) and what it may do."""

    name: str
    roles: list[Literal["caller", "operator", "analyst"]] = Field(min_length=1)
    key_env: str | None = None
    key_file: str | None = None

    @field_validator("key_file")
    @classmethod
    def _one_source(cls, value: str | None, info) -> str | None:  # noqa: ANN001
        if value is not None and info.data.get("key_env"):
            raise ValueError("give key_env or key_file, not both")
        return value


class CircuitBreakerSpec(_Strict):
    """The seed's ModelCircuitBreaker defaults, and when a rate limit sends requests elsewhere."""

    failure_threshold: int = Field(default=5, ge=1)
    recovery_timeout: Duration = "300s"  # type: ignore[assignment]
    # A 429 whose Retry-After is longer than this marks the model rate limited until the wait ends, on
    # every worker, and the request goes on to its next candidate at once; a shorter one is waited
    # for and retried on the same model.
    rate_limit_reroute_after: Duration = "2s"  # type: ignore[assignment]


class HumanOversight(_Strict):
    """Requests of a critical task type whose estimated cost reaches the threshold wait for an operator."""

    critical_task_types: list[str] = []
    approval_cost_threshold: Money = "$0"  # type: ignore[assignment]
    approval_timeout: Duration = "300s"  # type: ignore[assignment]


class FeedbackWeights(_Strict):
    """How the three judgments combine into one quality figure (each normalized to 0..1 first)."""

    satisfaction: float = Field(default=0.5, ge=0)  # human_satisfaction_rating, 1..5 -> 0..1
    relevance: float = Field(default=0.3, ge=0)  # output_relevance_score, already 0..1
    success: float = Field(default=0.2, ge=0)  # task_success, false/true -> 0/1

    @model_validator(mode="after")
    def _some_weight(self) -> FeedbackWeights:
        if self.satisfaction + self.relevance + self.success <= 0:
            raise ValueError("at least one of satisfaction, relevance and success needs a weight above 0")
        return self


class QualityFeedback(_Strict):
    """Live quality from users' feedback, per (model, task type), as the decision matrix's quality term.

    A judgment's weight halves every `half_life`; judgments older than `window` are not read. Until a
    (model, task type) has `min_judgments` judgments in the window its tier's prior stands in."""

    min_judgments: int = Field(default=20, ge=1)
    half_life: Duration = "6h"  # type: ignore[assignment]
    window: Duration = "7d"  # type: ignore[assignment]
    weights: FeedbackWeights = FeedbackWeights()
    refresh: Duration = "10s"  # type: ignore[assignment]  # how often the sink recomputes and broadcasts
    # quality_score_drops fires when a model's rating on a task falls this many points (1-5 scale) in
    # the last hour below its own trailing week.
    alert_drop: float = Field(default=0.5, gt=0, le=4)


Complexity = Literal["simple", "moderate", "complex"]


class ResponseCaching(_Strict):
    """cache_similar_requests and implement_request_deduplication: how long answers are kept."""

    ttl: Duration = "300s"  # type: ignore[assignment]
    idempotency_ttl: Duration = "24h"  # type: ignore[assignment]
    # An identical request waits this long for the first one's answer before it calls the provider itself.
    follow_timeout: Duration = "120s"  # type: ignore[assignment]


class HugaiConfig(_Strict):
    """The whole configuration file. The first seven blocks are the seed's."""

    routing_strategy: dict[str, RouteRule]
    selection_criteria: SelectionCriteria
    cost_controls: CostControls
    fallback_configuration: FallbackConfiguration
    agent_model_mapping: dict[str, AgentAssignment]
    environments: dict[str, EnvironmentProfile]
    security_configuration: SecurityConfiguration
    models: dict[str, ModelSpec]
    model_groups: dict[str, list[str]] = {}
    providers: dict[ProviderFamily, ProviderSpec] = {}
    simulated: SimulatedSpec = SimulatedSpec()
    http: HttpSpec = HttpSpec()
    api_keys: list[ApiKeySpec] = []
    circuit_breaker: CircuitBreakerSpec = CircuitBreakerSpec()
    human_oversight: HumanOversight = HumanOversight()
    response_caching: ResponseCaching = ResponseCaching()
    quality_feedback: QualityFeedback = QualityFeedback()
    # How demanding each task type is, for use_cheaper_models_for_simple_tasks; unlisted ones are complex.
    # A request's metadata.complexity overrides it.
    task_complexity: dict[str, Complexity] = {}

    def profile(self, environment: str) -> EnvironmentProfile | None:
        """The environments block's profile for HUGAI_ENV, if it has one."""
        return self.environments.get(environment)

    def retry_action(self) -> FailureAction | None:
        """fallback_configuration's retry_with_exponential_backoff step, if configured."""
        for action in self.fallback_configuration.primary_failure_handling:
            if action.action == "retry_with_exponential_backoff":
                return action
        return None

    def expand(self, name: str) -> list[str]:
        """A model id, or the ids a group name stands for."""
        return list(self.model_groups.get(name, [name]))
