"""The decision matrix, exclusions, ordering and cost-efficiency choice, as tables with hand-computed values."""

from __future__ import annotations

import pytest

from streams.config import load_config
from streams.events import LLMRequest, PerformanceRequirements
from streams.routing.cost_efficiency import applies, cheapest_fit
from streams.routing.scoring import Constraints, Figures, Judged, rank

CONFIG = load_config()
PAIR = ("gpt-4-turbo", "claude-3-5-sonnet")


def _rank(candidates=PAIR, degrade=(), limits=Constraints(needed_tokens=1000), cost=None, figures=None,  # noqa: ANN001, ANN202
          unavailable=None, in_flight=None, judged=None):
    cost = cost or {"gpt-4-turbo": 0.02, "claude-3-5-sonnet": 0.01}
    return rank(CONFIG, candidates, degrade, limits, estimated_cost=cost, figures=figures or {},
                unavailable=unavailable or {}, in_flight=in_flight, judged=judged)


def test_with_no_live_figures_each_model_gets_the_priors():
    # gpt-4-turbo: cost 1-0.02/0.02=0, performance prior 0.5, quality tier-1 prior 0.95, capabilities 0.5+0.5
    #   0.3*0 + 0.4*0.5 + 0.2*0.95 + 0.1*1 = 0.49;  claude: cost 1-0.01/0.02 = 0.5 -> 0.49 + 0.15 = 0.64
    assert _rank().scores == pytest.approx({"gpt-4-turbo": 0.49, "claude-3-5-sonnet": 0.64})


def test_live_latency_throughput_and_success_rate_move_the_scores():
    figures = {"gpt-4-turbo": Figures(calls=10, ok=10, p50_ms=100, p95_ms=200, tokens_per_s=50),
               "claude-3-5-sonnet": Figures(calls=10, ok=5, p50_ms=200, p95_ms=400, tokens_per_s=100)}
    # gpt: performance 0.75*1 + 0.25*0.5 = 0.875 -> 0.4*0.875 + 0.2*0.95 + 0.1 = 0.64
    # claude: performance 0.75*0.5 + 0.25*1 = 0.625, quality 0.95*5/10 -> 0.15 + 0.25 + 0.095 + 0.1 = 0.595
    assert _rank(figures=figures).scores == pytest.approx({"gpt-4-turbo": 0.64, "claude-3-5-sonnet": 0.595})


def test_fewer_calls_than_the_minimum_still_count_as_no_data():
    few = {"gpt-4-turbo": Figures(calls=4, ok=0, p50_ms=9000, p95_ms=9000)}
    assert _rank(figures=few).scores == _rank().scores


@pytest.mark.parametrize(("model", "limits", "figures", "reason"), [
    ("llama-2", Constraints(needed_tokens=10_000), {}, "context window 4096 tokens < 10000 needed"),
    ("gpt-4-turbo", Constraints(max_cost_usd=0.015), {}, "estimated cost $0.020000 > max_cost_per_request $0.015000"),
    ("gpt-3.5-turbo", Constraints(quality_threshold=0.85), {}, "quality 0.80 < quality_threshold 0.85"),
    ("gpt-4", Constraints(profile_quality=0.95), {}, "quality 0.90 < the environment's quality_threshold 0.95"),
    ("gpt-4-turbo", Constraints(max_latency_ms=1000), {"gpt-4-turbo": Figures(calls=9, ok=9, p50_ms=800, p95_ms=2000)},
     "p95 latency 2000 ms > max_latency 1000 ms"),
])
def test_a_candidate_that_cannot_meet_a_hard_constraint_is_excluded_with_the_reason(model, limits, figures, reason):
    cost = {"gpt-4-turbo": 0.02, "gpt-4": 0.01, "gpt-3.5-turbo": 0.001}
    ranking = _rank(candidates=(model,), limits=limits, cost=cost, figures=figures)
    assert ranking.order == () and ranking.excluded == {model: reason} and ranking.limited == {model}


def test_a_slow_model_without_enough_data_is_not_excluded_on_latency():
    ranking = _rank(candidates=("gpt-4-turbo",), limits=Constraints(max_latency_ms=1),
                    figures={"gpt-4-turbo": Figures(calls=2, ok=2, p50_ms=900, p95_ms=900)})
    assert ranking.order == ("gpt-4-turbo",)


def test_the_environments_quality_floor_does_not_block_degradation_but_the_requests_own_does():
    ranking = _rank(candidates=("gpt-4-turbo",), degrade=("gpt-4", "gpt-3.5-turbo"),
                    limits=Constraints(profile_quality=0.95), cost={"gpt-4-turbo": 0.02})
    assert ranking.degrade == ("gpt-4", "gpt-3.5-turbo") and ranking.excluded == {}
    ranking = _rank(candidates=("gpt-4-turbo",), degrade=("gpt-4", "gpt-3.5-turbo"),
                    limits=Constraints(quality_threshold=0.85), cost={"gpt-4-turbo": 0.02})
    assert ranking.degrade == ("gpt-4",) and set(ranking.excluded) == {"gpt-3.5-turbo"}


def test_operator_exclusions_pass_through_and_the_primary_stays_first_while_admitted():
    ranking = _rank(candidates=("gpt-4-turbo", "codellama-70b", "claude-3-5-sonnet"),
                    cost={"gpt-4-turbo": 0.02, "claude-3-5-sonnet": 0.01, "codellama-70b": 0.0})
    # codellama is free and scores higher, but the same capability class as the primary comes first
    assert ranking.scores["codellama-70b"] > ranking.scores["claude-3-5-sonnet"]
    assert ranking.order == ("gpt-4-turbo", "claude-3-5-sonnet", "codellama-70b")
    ranking = _rank(unavailable={"gpt-4-turbo": "disabled by an operator"})
    assert ranking.order == ("claude-3-5-sonnet",) and ranking.excluded == {"gpt-4-turbo": "disabled by an operator"}
    assert ranking.limited == frozenset(), "an operator's choice is not the request's limit"


def test_equal_scores_are_spread_by_calls_in_flight():
    local = ("llama-2", "codellama-70b", "mistral")
    cost = dict.fromkeys(local, 0.0)
    assert _rank(candidates=(), degrade=local, cost=cost, limits=Constraints(needed_tokens=100)).degrade == local
    busy = {"llama-2": 3, "codellama-70b": 1}
    ranking = _rank(candidates=(), degrade=local, cost=cost, limits=Constraints(needed_tokens=100), in_flight=busy)
    assert ranking.degrade == ("mistral", "codellama-70b", "llama-2")


def test_constraints_come_from_the_request_and_the_stricter_quality_wins():
    request = LLMRequest(request_id="r", task_type="code_generation", prompt="x" * 400, quality_threshold=0.8,
                         max_cost_per_request=0.5,
                         performance_requirements=PerformanceRequirements(max_latency=30, min_quality=0.85))
    limits = Constraints.of(request, profile_quality=0.7, output_tokens=100)
    assert limits == Constraints(quality_threshold=0.85, profile_quality=0.7, max_cost_usd=0.5,
                                 max_latency_ms=30_000, needed_tokens=400 // 4 + 4 + 100, needs=frozenset({"chat"}))


def test_an_embedding_request_goes_only_to_embedding_models_that_take_all_its_inputs():
    config = CONFIG.model_copy(update={"models": {**CONFIG.models, "embed-small": CONFIG.models["gpt-4"].model_copy(
        update={"embedding_dimensions": 8, "max_inputs": 2, "context_length": 8192})}})
    embed = LLMRequest(request_id="e", task_type="embeddings", input=["a", "b", "c"])
    limits = Constraints.of(embed, profile_quality=None, output_tokens=0)
    assert limits.needs == {"embedding"} and limits.inputs == 3
    ranking = rank(config, ("embed-small", "gpt-4"), (), limits, estimated_cost={}, figures={}, unavailable={})
    assert ranking.excluded == {"embed-small": "takes at most 2 inputs a call (the request has 3)",
                                "gpt-4": "is not an embedding model (the request asks for vectors)"}
    # Vectors that would not fit one answer record (10 MiB): 2,000 of 3,072 floats at about 12 bytes each
    wide = config.models["embed-small"].model_copy(update={"embedding_dimensions": 3072, "max_inputs": 2048})
    big = Constraints.of(LLMRequest(request_id="b", task_type="embeddings", input=["t"] * 2000), profile_quality=None,
                         output_tokens=0)
    ranking = rank(config.model_copy(update={"models": {**config.models, "embed-small": wide}}), ("embed-small",), (),
                   big, estimated_cost={}, figures={}, unavailable={})
    assert ranking.excluded["embed-small"].startswith("2000 vectors of 3072 would be about 70 MiB, over the 10 MiB")
    chat = Constraints.of(LLMRequest(request_id="c", task_type="x", prompt="hi"), profile_quality=None, output_tokens=1)
    assert rank(config, ("embed-small",), (), chat, estimated_cost={}, figures={}, unavailable={}).excluded == {
        "embed-small": "is an embedding model (the request asks for an answer)"}


COSTS = {"gpt-4-turbo": 0.03, "gpt-4": 0.05, "gpt-3.5-turbo": 0.002, "claude-3-haiku": 0.001, "llama-2": 0.0}


@pytest.mark.parametrize(("complexity", "threshold", "chosen"), [
    ("simple", 0.8, "claude-3-haiku"),  # the seed: a standard model for simple tasks
    ("simple", 0.7, "llama-2"),  # a lower bar lets a free local model in
    ("simple", 0.9, "gpt-4-turbo"),  # tier 2 (0.95) qualifies too, but gpt-4 costs more here
    ("moderate", 0.9, "claude-3-haiku"),  # the seed's moderate case
    ("moderate", 0.95, "gpt-4-turbo"),  # only tier 1 (0.96) is good enough
    ("moderate", 0.99, None),
    ("complex", 0.5, None),  # left to the route
])
def test_the_cheapest_model_whose_tier_meets_the_threshold_for_the_complexity(complexity, threshold, chosen):
    assert cheapest_fit(CONFIG, complexity, threshold, estimated_cost=COSTS, available=list(COSTS)) == chosen


@pytest.mark.parametrize(("complexity", "cost_optimization", "expected"), [
    ("simple", "quality_first", False), ("simple", "balanced", True), ("moderate", "balanced", False),
    ("moderate", "aggressive", True), ("complex", "aggressive", False), ("simple", None, True),
])
def test_how_far_cost_efficiency_reaches_depends_on_the_profile(complexity, cost_optimization, expected):
    assert applies(CONFIG, complexity, cost_optimization) is expected


def test_cost_efficiency_is_off_when_config_turns_the_strategy_off():
    controls = CONFIG.cost_controls.model_copy(update={"cost_optimization_strategies": ["cache_similar_requests"]})
    assert applies(CONFIG.model_copy(update={"cost_controls": controls}), "simple", "aggressive") is False


def test_users_judgment_replaces_the_prior_once_enough_requests_are_judged():
    enough = CONFIG.quality_feedback.min_judgments
    few = {"gpt-4-turbo": Judged(quality=0.2, judgments=enough - 1)}
    assert _rank(judged=few).scores == _rank().scores
    assert _rank(judged=few).quality == {"gpt-4-turbo": (0.95, 0), "claude-3-5-sonnet": (0.95, 0)}
    trusted = {"gpt-4-turbo": Judged(quality=0.2, judgments=enough)}
    # gpt-4-turbo's quality term falls from 0.95 to 0.2: 0.49 - 0.2 * 0.75 = 0.34
    ranking = _rank(judged=trusted)
    assert ranking.scores == pytest.approx({"gpt-4-turbo": 0.34, "claude-3-5-sonnet": 0.64})
    assert ranking.quality["gpt-4-turbo"] == (0.2, enough)


def test_a_threshold_is_checked_against_the_live_figure_once_trusted():
    enough = CONFIG.quality_feedback.min_judgments
    judged = {"gpt-4-turbo": Judged(quality=0.4, judgments=enough), "claude-3-5-sonnet": Judged(0.99, enough)}
    ranking = _rank(limits=Constraints(profile_quality=0.7), judged=judged)
    assert ranking.order == ("claude-3-5-sonnet",)
    assert ranking.excluded == {"gpt-4-turbo": f"live quality 0.40 ({enough} judged) < the environment's "
                                               "quality_threshold 0.70"}
    # A tier-3 model users rate highly passes a floor its prior (0.80) would not.
    cheap = _rank(candidates=("gpt-3.5-turbo",), limits=Constraints(quality_threshold=0.85),
                  cost={"gpt-3.5-turbo": 0.001}, judged={"gpt-3.5-turbo": Judged(0.9, enough)})
    assert cheap.order == ("gpt-3.5-turbo",)
