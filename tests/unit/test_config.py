"""The seed's YAML loads as shipped; each kind of invalid config fails naming the key and the reason."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal

import pytest
import yaml

from streams.config import DEFAULT_CONFIG_PATH, ConfigError, load_config, parse_config

SEED = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())


def test_the_shipped_config_carries_the_seed_values():
    config = load_config()
    assert config.routing_strategy["code_generation"].primary == "gpt-4-turbo"
    assert config.routing_strategy["code_generation"].fallback == ["claude-3-5-sonnet", "codellama-70b"]
    assert config.selection_criteria.weights() == {
        "cost_sensitivity": 0.3, "performance_requirements": 0.4,
        "quality_expectations": 0.2, "specialized_capabilities": 0.1,
    }
    assert config.cost_controls.daily_budgets["openai"] == Decimal("500")
    assert config.cost_controls.monthly_limits.total_budget == Decimal("15000")
    retry = config.fallback_configuration.primary_failure_handling[0]
    assert (retry.max_attempts, retry.initial_delay, retry.max_delay) == (3, timedelta(seconds=1), timedelta(seconds=60))
    assert config.expand("local-models") == ["llama-2", "codellama-70b", "mistral", "local-security-model"]
    assert config.agent_model_mapping["documentation_writer"].primary == "gpt-4"
    assert config.environments["production"].quality_threshold == 0.95
    assert config.security_configuration.data_protection.data_retention == timedelta(days=7)
    assert config.security_configuration.api_key_management.rotation_frequency == timedelta(days=90)


def _with(path: list, value):  # noqa: ANN001, ANN202
    raw = copy.deepcopy(SEED)
    node = raw
    for part in path[:-1]:
        node = node[part]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return raw


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["routing_strategy", "code_generation", "fallback"], ["claude-3-5-sonnet", "gpt-5-ultra"],
         "routing_strategy.code_generation.fallback[1]: unknown model 'gpt-5-ultra'"),
        (["selection_criteria", "cost_sensitivity", "weight"], 0.5,
         "selection_criteria: weights must sum to 1, they sum to 1.2"),
        (["cost_controls", "daily_budgets", "openai"], "-$500",
         "cost_controls.daily_budgets.openai: Value error, amount must not be negative"),
        (["fallback_configuration", "primary_failure_handling", 0, "initial_delay"], "soon",
         "fallback_configuration.primary_failure_handling[0].initial_delay: Value error, expected a duration"),
        (["security_configuration"], _DELETE, "security_configuration: required block or key is missing"),
        (["cost_controls", "monthly_limits", "total_budget"], "fifteen grand",
         "cost_controls.monthly_limits.total_budget: Value error, expected an amount like '$500'"),
        (["agent_model_mapping", "test_agent", "primary"], "claude-9",
         "agent_model_mapping.test_agent.primary: unknown model 'claude-9'"),
        (["environments", "staging", "quality_threshold"], 1.5,
         "environments.staging.quality_threshold: Input should be less than or equal to 1"),
        (["security_configuration", "data_protection", "request_logging"], "full",
         "security_configuration.data_protection.request_logging: 'full' stores prompt and completion text, "
         "which HIPAA_privacy_safeguards and PCI_DSS_payment_security forbid"),
        (["security_configuration", "data_protection", "data_retention"], "30_days",
         "security_configuration.data_protection.data_retention: 30 days is longer than the 7 days"),
        (["security_configuration", "compliance_requirements"], ["GDPR_data_protection", "ISO_9001"],
         "security_configuration.compliance_requirements[1]: unknown requirement 'ISO_9001'"),
        (["response_caching"], {"idempotency_ttl": "14_days"},
         "response_caching.idempotency_ttl: 14 days is longer than security_configuration.data_protection."
         "data_retention (7 days)"),
    ],
)
def test_invalid_config_names_the_key_and_the_reason(path, value, expected):
    with pytest.raises(ConfigError) as caught:
        parse_config(_with(path, value), source="test.yaml")
    assert any(problem.startswith(expected) for problem in caught.value.problems), caught.value.problems
    assert "test.yaml" in str(caught.value)


def test_a_typo_in_a_key_is_refused_not_ignored():
    raw = _with(["routing_strategy", "code_generation", "fallbacks"], ["gpt-4"])
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert "routing_strategy.code_generation.fallbacks: unknown key" in caught.value.problems


def test_a_missing_or_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("routing_strategy: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_provider_keys_come_from_the_variable_or_from_the_file_it_names(tmp_path, monkeypatch):
    from streams.config.keyring import KeyRing
    from streams.config.settings import ProviderCredentials

    secret = tmp_path / "anthropic_key"
    secret.write_text("sk-ant-from-file\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("ANTHROPIC_API_KEY_FILE", str(secret))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY_FILE", raising=False)
    credentials = ProviderCredentials()
    keys = KeyRing(credentials)
    assert keys.get("openai") == "sk-from-env"
    assert keys.get("anthropic") == "sk-ant-from-file"
    assert keys.get("google") is None
    assert "sk-from-env" not in repr(credentials) and "sk-ant-from-file" not in repr(credentials)


def test_full_logging_is_allowed_when_no_requirement_forbids_it():
    raw = _with(["security_configuration", "compliance_requirements"], ["GDPR_data_protection", "SOC2_security_controls"])
    raw["security_configuration"]["data_protection"]["request_logging"] = "full"
    assert parse_config(raw).security_configuration.data_protection.request_logging == "full"


def test_config_check_lists_the_controls_each_requirement_turns_on():
    from typer.testing import CliRunner

    from streams.cli import app

    out = CliRunner().invoke(app, ["config", "check"]).output
    assert "GDPR_data_protection:" in out and "hugai-llm erase --tenant/--user" in out
    assert "[analytics/erase.py]" in out
    assert "HIPAA_privacy_safeguards:" in out and "request_logging must be metadata_only" in out


def test_blocks_left_out_get_parsed_defaults():
    raw = copy.deepcopy(SEED)
    raw.pop("http", None)
    raw.pop("circuit_breaker", None)
    config = parse_config(raw)
    assert config.circuit_breaker.failure_threshold == 5
    assert config.circuit_breaker.recovery_timeout == timedelta(seconds=300)
    assert (config.http.connect_timeout, config.http.read_timeout) == (timedelta(seconds=5), timedelta(seconds=60))
    retry = config.retry_action()
    assert (retry.max_attempts, retry.initial_delay, retry.max_delay) == (3, timedelta(seconds=1), timedelta(seconds=60))


def test_the_router_builds_its_retries_and_breakers_from_the_config():
    from streams.agents.breakers import LocalBreakers
    from streams.agents.cluster_state import ClusterState
    from streams.agents.resilience import breaker_policy, resilient_caller

    config = load_config()
    caller = resilient_caller(config, ClusterState(LocalBreakers(breaker_policy(config))))
    assert caller.backoff.max_attempts == 3 and caller.backoff.initial_delay_s == 1.0
    assert caller.breakers.policy.failure_threshold == 5 and caller.breakers.policy.recovery_timeout_s == 300.0
