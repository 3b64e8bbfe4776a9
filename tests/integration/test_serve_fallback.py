"""RequestServer without a broker: retries on the seed's schedule, fallbacks in order, breakers per model."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx

from providers import OpenAIProvider
from streams.agents import RequestServer
from streams.agents.breakers import LocalBreakers
from streams.agents.cluster_state import ClusterState
from streams.agents.provider_directory import Route, build_directory
from streams.agents.resilience import ResilientCaller
from streams.config import load_config
from streams.config.settings import ProviderCredentials
from streams.events import LLMRequest
from streams.routing.backoff import BackoffPolicy
from streams.routing.breaker import BreakerPolicy
from tests.support.provider_server import ProviderServer


class Clock:
    def __init__(self) -> None:
        self.now, self.slept = 0.0, []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _caller(clock: Clock, backoff: BackoffPolicy, policy: BreakerPolicy, **options) -> ResilientCaller:  # noqa: ANN003
    return ResilientCaller(backoff=backoff, breakers=LocalBreakers(policy, clock=lambda: clock.now), sleep=clock.sleep,
                           **options)


def _point(directory, model: str, api_model: str) -> None:  # noqa: ANN001
    """Send `model`'s calls to a test-server behaviour (error-500, bad-key, ...) or back to its own id."""
    route = directory.route(model)
    directory._routes[model] = Route(model, route.spec.model_copy(update={"api_model": api_model}), route.provider)


async def test_a_failing_primary_is_retried_on_schedule_then_falls_back_and_a_fatal_error_stops_the_chain():
    config, clock = load_config(), Clock()
    caller = _caller(clock, BackoffPolicy(max_attempts=3, initial_delay_s=1, max_delay_s=60),
                     BreakerPolicy(failure_threshold=5), jitter=lambda: 0.0)
    with ProviderServer() as server:
        async with httpx.AsyncClient() as client:
            directory = build_directory(config, ProviderCredentials(openai_api_key="k", openai_base_url=server.base_url), client)
            _point(directory, "gpt-4-turbo", "error-500")
            serve = RequestServer(config=config, directory=directory, environment="test", caller=caller).serve
            served = await serve(LLMRequest(request_id="fb", task_type="code_generation", prompt="x"))
            response, record = served.response, served.telemetry[-1]
            assert response.status == "ok" and response.model == "claude-3-5-sonnet"
            assert [(a.model, a.status, a.error_code) for a in response.attempts] == [
                ("gpt-4-turbo", "error", "provider_unavailable")] * 3 + [("claude-3-5-sonnet", "ok", None)]
            assert clock.slept == [0.5, 1.0], "1 s doubling, with the jitter at its floor of one half"
            assert record.fallback_used and record.attempts == 4
            attempts = [e for e in served.telemetry if e.event_type == "attempt_completed"]
            assert [a.attempt_id for a in attempts] == ["fb:1", "fb:2", "fb:3", "fb:4"]
            assert attempts[3].cost_usd == response.cost_usd > 0 and attempts[0].cost_usd == 0
            decision = next(e for e in served.telemetry if e.event_type == "route_decided")
            assert decision.candidates == ["gpt-4-turbo", "claude-3-5-sonnet", "codellama-70b"]
            assert decision.chosen_model == "claude-3-5-sonnet" and decision.reason == "routing_strategy"
            assert record.prompt_text is None, "metadata_only by default"

            _point(directory, "gpt-4", "bad-key")
            served = await serve(LLMRequest(request_id="fatal", task_type="code_generation", prompt="x",
                                            preferred_model="gpt-4", fallback_models=["gpt-3.5-turbo"]))
    assert served.response.status == "error" and served.response.error.code == "authentication_failed"
    assert [a.model for a in served.response.attempts] == ["gpt-4"], "a fatal error is neither retried nor passed on"


async def test_the_breaker_opens_on_repeated_failures_excludes_the_model_and_one_probe_closes_it():
    config, clock = load_config(), Clock()
    caller = _caller(clock, BackoffPolicy(max_attempts=1), BreakerPolicy(failure_threshold=2, recovery_timeout_s=300))
    with ProviderServer() as server:
        async with httpx.AsyncClient() as client:
            directory = build_directory(config, ProviderCredentials(openai_api_key="k", openai_base_url=server.base_url), client)
            serve = RequestServer(config=config, directory=directory, environment="test", caller=caller).serve
            _point(directory, "gpt-4-turbo", "error-500")
            first = await serve(LLMRequest(request_id="b1", task_type="code_generation", prompt="x"))
            second = await serve(LLMRequest(request_id="b2", task_type="code_generation", prompt="x"))
            opened = [e for e in second.telemetry if e.event_type == "breaker_changed"]
            assert [(e.model, e.state) for e in opened] == [("gpt-4-turbo", "open")]
            assert not [e for e in first.telemetry if e.event_type == "breaker_changed"]

            calls_before = len(server.calls)
            third = await serve(LLMRequest(request_id="b3", task_type="code_generation", prompt="x"))
            assert third.response.model == "claude-3-5-sonnet" and [a.model for a in third.response.attempts] == [
                "claude-3-5-sonnet"], "an open breaker sends no call to its model"
            assert len(server.calls) == calls_before
            decision = next(e for e in third.telemetry if e.event_type == "route_decided")
            assert decision.excluded == {"gpt-4-turbo": "circuit breaker open"}

            _point(directory, "gpt-4-turbo", "gpt-4-turbo")  # the provider recovers
            clock.now += 300
            fourth = await serve(LLMRequest(request_id="b4", task_type="code_generation", prompt="x"))
    assert fourth.response.model == "gpt-4-turbo"
    assert [(e.state) for e in fourth.telemetry if e.event_type == "breaker_changed"] == ["half_open", "closed"]


async def test_when_every_candidate_is_refused_the_answer_says_so():
    config, clock = load_config(), Clock()
    caller = _caller(clock, BackoffPolicy(max_attempts=1), BreakerPolicy(failure_threshold=1))
    with ProviderServer() as server:
        async with httpx.AsyncClient() as client:
            directory = build_directory(config, ProviderCredentials(openai_api_key="k", openai_base_url=server.base_url), client)
            serve = RequestServer(config=config, directory=directory, environment="test", caller=caller).serve
            _point(directory, "gpt-4", "error-500")
            await serve(LLMRequest(request_id="x1", task_type="t", prompt="x", preferred_model="gpt-4", fallback_models=["gpt-4"]))
            refused = await serve(LLMRequest(request_id="x2", task_type="t", prompt="x", preferred_model="gpt-4",
                                             fallback_models=["gpt-4"]))
    assert refused.response.error.code == "no_model_available"
    assert "gpt-4: circuit breaker open" in refused.response.error.message and refused.response.attempts == []


def test_families_without_a_key_are_simulated_and_say_so():
    config = load_config()
    directory = build_directory(config, ProviderCredentials(openai_api_key="k"), httpx.AsyncClient())
    families = directory.families()
    assert families["openai"] == "openai"
    assert families["anthropic"] == families["google"] == families["cohere"] == families["local"] == "simulated"
    assert directory.route("claude-3-haiku").simulated and not directory.route("gpt-4").simulated
    assert isinstance(directory.route("gpt-4").provider, OpenAIProvider)


async def test_when_every_candidate_fails_it_degrades_down_the_tiers():
    config, clock = load_config(), Clock()
    caller = _caller(clock, BackoffPolicy(max_attempts=1), BreakerPolicy())
    with ProviderServer() as server:
        async with httpx.AsyncClient() as client:
            directory = build_directory(config, ProviderCredentials(openai_api_key="k", openai_base_url=server.base_url), client)
            _point(directory, "gpt-4-turbo", "error-500")  # the OpenAI-format server fails it
            _point(directory, "claude-3-5-sonnet", "error-claude")  # the simulated provider fails "error" names
            _point(directory, "codellama-70b", "error-codellama")
            served = await RequestServer(config=config, directory=directory, environment="test", caller=caller).serve(
                LLMRequest(request_id="deg", task_type="code_generation", prompt="x"))
    # Tier 2 is gpt-4, claude-3-opus and gemini-pro; with no live figures the matrix prefers the cheapest.
    assert served.response.status == "ok" and served.response.model == "gemini-pro", "tier 2's best score"
    assert [a.model for a in served.response.attempts] == ["gpt-4-turbo", "claude-3-5-sonnet", "codellama-70b", "gemini-pro"]
    decision = next(e for e in served.telemetry if e.event_type == "route_decided")
    assert decision.reason == "degraded" and decision.chosen_model == "gemini-pro"
    tier_2 = {m: decision.scores[m] for m in ("gpt-4", "claude-3-opus", "gemini-pro")}
    assert max(tier_2, key=tier_2.get) == "gemini-pro" and len(set(tier_2.values())) == 3


async def test_a_long_retry_after_is_not_waited_for_the_model_is_skipped_until_it_ends_then_used_again():
    config, clock = load_config(), Clock()
    breakers = LocalBreakers(BreakerPolicy(), clock=lambda: clock.now)  # the caller's and routing's, as in a worker
    caller = ResilientCaller(backoff=BackoffPolicy(max_attempts=3, initial_delay_s=1, max_delay_s=60), breakers=breakers,
                             sleep=clock.sleep, jitter=lambda: 0.0, reroute_after_s=2.0, clock=lambda: clock.now)
    with ProviderServer() as server:
        server.retry_after = "30"
        async with httpx.AsyncClient() as client:
            directory = build_directory(config, ProviderCredentials(openai_api_key="k", openai_base_url=server.base_url), client)
            serve = RequestServer(config=config, directory=directory, environment="test", caller=caller,
                                  state=ClusterState(breakers),
                                  clock=lambda: datetime.fromtimestamp(clock.now, timezone.utc)).serve
            _point(directory, "gpt-4-turbo", "rate-limited")
            first = await serve(LLMRequest(request_id="rl1", task_type="code_generation", prompt="x"))
            calls = len(server.calls)
            second = await serve(LLMRequest(request_id="rl2", task_type="code_generation", prompt="x"))
            assert len(server.calls) == calls, "the limited model is not called again while its wait lasts"
            clock.now += 31
            _point(directory, "gpt-4-turbo", "gpt-4-turbo")  # the provider's limit has passed
            third = await serve(LLMRequest(request_id="rl3", task_type="code_generation", prompt="x"))

            server.retry_after = "1"  # a short wait is waited for, on the same model
            _point(directory, "gpt-4", "rate-limited")
            short = await serve(LLMRequest(request_id="rl4", task_type="code_generation", prompt="x",
                                           preferred_model="gpt-4", fallback_models=["gpt-3.5-turbo"]))
    assert first.response.model == "claude-3-5-sonnet"
    assert [(a.model, a.error_code) for a in first.response.attempts] == [
        ("gpt-4-turbo", "rate_limited"), ("claude-3-5-sonnet", None)], "one try, no retry, then the next candidate"
    decided = [next(e for e in s.telemetry if e.event_type == "route_decided") for s in (first, second)]
    assert decided[0].excluded["gpt-4-turbo"] == "rate limited by openai: asked to wait 30 s"
    assert decided[1].excluded["gpt-4-turbo"] == "rate limited by its provider for 30 s more"
    assert [a.model for a in second.response.attempts] == ["claude-3-5-sonnet"]
    assert third.response.model == "gpt-4-turbo", "the limit ended: the primary is used again, no restart"
    assert clock.slept == [1.0, 1.0], "only the short waits (Retry-After: 1) were slept, on their own model"
    assert [a.model for a in short.response.attempts] == ["gpt-4"] * 3 + ["gpt-3.5-turbo"]


class _CutOff:
    """A provider whose answer max_tokens cut in the middle of a tool call's arguments."""

    provider_type = "openai"

    async def infer(self, request):  # noqa: ANN001, ANN201
        from providers import ChatResult, Usage
        from providers.types import ToolCall

        return ChatResult(content="", usage=Usage(input_tokens=5, output_tokens=4), ttft_ms=1.0, total_ms=1.0,
                          finish_reason="length", provider_finish_reason="length",
                          tool_calls=(ToolCall(id="call_1", name="get_weather", arguments='{"city": "Os'),))


async def test_an_answer_cut_mid_arguments_is_answered_as_it_is_not_lost():
    config = load_config()
    async with httpx.AsyncClient() as client:
        directory = build_directory(config, ProviderCredentials(), client)
        route = directory.route("gpt-4-turbo")
        directory._routes["gpt-4-turbo"] = Route("gpt-4-turbo", route.spec, _CutOff())
        served = await RequestServer(config=config, directory=directory, environment="test").serve(LLMRequest(
            request_id="cut", task_type="code_generation", prompt="weather?", max_tokens=4,
            tools=[{"name": "get_weather", "parameters": {"type": "object"}}]))
    response = served.response
    assert response.status == "ok" and response.finish_reason == "length"
    assert [(c.name, c.arguments) for c in response.tool_calls] == [("get_weather", '{"city": "Os')]
