"""RequestServer without a broker: candidates are tried in order, and attempts are recorded."""

from __future__ import annotations

import httpx

from providers import OpenAIProvider
from streams.agents import RequestServer
from streams.config import load_config
from streams.events import LLMRequest
from streams.provider_directory import Route, build_directory
from streams.settings import ProviderCredentials
from tests.support.provider_server import ProviderServer


async def test_a_failing_primary_falls_back_and_a_fatal_error_stops_the_chain():
    config = load_config()
    with ProviderServer() as server:
        async with httpx.AsyncClient() as client:
            directory = build_directory(config, ProviderCredentials(openai_api_key="k", openai_base_url=server.base_url), client)
            # Point the primary at a model name the test server fails with a 500.
            primary = directory.route("gpt-4-turbo")
            directory._routes["gpt-4-turbo"] = Route("gpt-4-turbo", primary.spec.model_copy(update={"api_model": "error-500"}), primary.provider)
            serve = RequestServer(config=config, directory=directory, environment="test").serve
            served = await serve(LLMRequest(request_id="fb", task_type="code_generation", prompt="x"))
            response, record = served.response, served.telemetry[-1]
            assert response.status == "ok" and response.model == "claude-3-5-sonnet"
            assert [(a.model, a.status, a.error_code) for a in response.attempts] == [
                ("gpt-4-turbo", "error", "provider_unavailable"), ("claude-3-5-sonnet", "ok", None)]
            assert record.fallback_used and record.attempts == 2
            attempts = [e for e in served.telemetry if e.event_type == "attempt_completed"]
            assert [(a.attempt_id, a.status, a.error_code) for a in attempts] == [
                ("fb:1", "error", "provider_unavailable"), ("fb:2", "ok", "")]
            assert attempts[1].cost_usd == response.cost_usd > 0 and attempts[0].cost_usd == 0
            decision = next(e for e in served.telemetry if e.event_type == "route_decided")
            assert decision.candidates == ["gpt-4-turbo", "claude-3-5-sonnet", "codellama-70b"]
            assert decision.chosen_model == "claude-3-5-sonnet" and decision.reason == "routing_strategy"
            assert record.prompt_text is None, "metadata_only by default"

            bad_key = directory.route("gpt-4")
            directory._routes["gpt-4"] = Route("gpt-4", bad_key.spec.model_copy(update={"api_model": "bad-key"}), bad_key.provider)
            served = await serve(LLMRequest(request_id="fatal", task_type="code_generation", prompt="x",
                                            preferred_model="gpt-4", fallback_models=["gpt-3.5-turbo"]))
            response, record = served.response, served.telemetry[-1]
    assert response.status == "error" and response.error.code == "authentication_failed"
    assert [a.model for a in response.attempts] == ["gpt-4"], "a fatal error is not passed down the chain"
    assert not record.fallback_used


def test_families_without_a_key_are_simulated_and_say_so():
    config = load_config()
    directory = build_directory(config, ProviderCredentials(openai_api_key="k"), httpx.AsyncClient())
    families = directory.families()
    assert families["openai"] == "openai"
    assert families["anthropic"] == families["google"] == families["cohere"] == families["local"] == "simulated"
    assert directory.route("claude-3-haiku").simulated and not directory.route("gpt-4").simulated
    assert isinstance(directory.route("gpt-4").provider, OpenAIProvider)
