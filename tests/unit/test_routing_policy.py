"""Which models a request tries, in order: a table of the precedence rules."""

from __future__ import annotations

import pytest

from streams.config import load_config
from streams.events import LLMRequest
from streams.routing import RoutingError, plan_route

CONFIG = load_config()


def _request(**fields) -> LLMRequest:  # noqa: ANN003
    return LLMRequest(request_id="r", prompt="x", **{"task_type": "code_generation", **fields})


@pytest.mark.parametrize(("fields", "candidates", "reason"), [
    ({}, ("gpt-4-turbo", "claude-3-5-sonnet", "codellama-70b"), "routing_strategy"),
    ({"task_type": "requirements_analysis"}, ("claude-3-5-sonnet", "gpt-4-turbo", "gemini-pro"), "routing_strategy"),
    ({"agent_context": "documentation_writer"}, ("gpt-4", "claude-3-5-sonnet", "codellama-70b"), "agent_model_mapping"),
    ({"agent_context": "test_agent"}, ("claude-3-5-sonnet", "codellama-70b"), "agent_model_mapping"),
    ({"agent_context": "no_such_agent"}, ("gpt-4-turbo", "claude-3-5-sonnet", "codellama-70b"), "routing_strategy"),
    ({"preferred_model": "gpt-4-turbo", "fallback_models": ["claude-3-5-sonnet", "gpt-4"]},
     ("gpt-4-turbo", "claude-3-5-sonnet", "gpt-4"), "preferred_model"),
    ({"preferred_model": "gemini-pro", "agent_context": "test_agent"},
     ("gemini-pro", "claude-3-5-sonnet", "codellama-70b"), "preferred_model"),
    ({"preferred_model": "claude-3-haiku", "fallback_models": ["local-models"]},
     ("claude-3-haiku", "llama-2", "codellama-70b", "mistral", "local-security-model"), "preferred_model"),
    ({"task_type": "unlisted", "agent_context": "security_agent"}, ("claude-3-5-sonnet",), "agent_model_mapping"),
])
def test_precedence(fields, candidates, reason):
    decision = plan_route(CONFIG, _request(**fields))
    assert decision.candidates == candidates
    assert decision.reason == reason
    assert decision.primary == candidates[0]


def test_an_unknown_task_type_names_the_known_ones():
    with pytest.raises(RoutingError) as caught:
        plan_route(CONFIG, _request(task_type="poetry"))
    assert caught.value.code == "unknown_task_type"
    assert "'poetry'" in caught.value.message and "security_review" in caught.value.message


def test_an_unknown_model_in_the_request_is_refused():
    with pytest.raises(RoutingError) as caught:
        plan_route(CONFIG, _request(preferred_model="gpt-9"))
    assert caught.value.code == "unknown_model" and "'gpt-9'" in caught.value.message


def test_degradation_walks_the_tiers_past_the_candidates():
    decision = plan_route(CONFIG, _request())
    assert decision.degrade == ("gpt-4", "claude-3-opus", "gemini-pro", "gpt-3.5-turbo", "claude-3-haiku",
                                "llama-2", "mistral", "local-security-model")


def test_a_request_that_names_its_models_is_not_degraded():
    pinned = plan_route(CONFIG, _request(preferred_model="gpt-4", fallback_models=["gpt-4"]))
    assert pinned.candidates == ("gpt-4",) and pinned.degrade == ()
    preferred_only = plan_route(CONFIG, _request(preferred_model="gpt-4"))
    assert preferred_only.degrade, "a preferred model alone still falls back and degrades"
