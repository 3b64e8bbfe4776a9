"""Costs come from the genai-prices catalog; local models are free."""

from __future__ import annotations

from decimal import Decimal

import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price

from providers import UnknownPrice, Usage, cost_usd
from streams.config import load_config

MODELS = [(spec.provider, spec.api_model) for spec in load_config().models.values() if spec.provider != "local"]


@pytest.mark.parametrize(("provider", "model"), MODELS)
def test_every_catalog_model_is_priced_as_genai_prices_says(provider, model):
    usage = Usage(input_tokens=1234, output_tokens=567)
    expected = calc_price(PriceUsage(input_tokens=1234, output_tokens=567), model_ref=model, provider_id=provider).total_price
    assert cost_usd(provider, model, usage) == Decimal(str(expected))
    assert cost_usd(provider, model, usage) > 0


def test_gpt_4_turbo_at_its_list_price():
    # $10 per million input tokens, $30 per million output tokens.
    assert cost_usd("openai", "gpt-4-turbo", Usage(input_tokens=1_000_000, output_tokens=1_000_000)) == Decimal("40")


def test_cached_input_tokens_cost_less():
    full = cost_usd("openai", "gpt-4o", Usage(input_tokens=1000, output_tokens=0))
    cached = cost_usd("openai", "gpt-4o", Usage(input_tokens=1000, cached_input_tokens=1000, output_tokens=0))
    assert cached < full


def test_local_models_are_free_and_unknown_models_are_an_error():
    assert cost_usd("local", "llama2", Usage(input_tokens=10**6, output_tokens=10**6)) == 0
    with pytest.raises(UnknownPrice):
        cost_usd("openai", "not-a-model", Usage(input_tokens=1, output_tokens=1))


def test_cached_input_tokens_are_billed_at_the_cached_rate():
    # gpt-4o: $2.50 per million input tokens, $1.25 per million cached input tokens.
    usage = Usage(input_tokens=1_000_000, cached_input_tokens=400_000, output_tokens=0)
    assert cost_usd("openai", "gpt-4o", usage) == Decimal("0.6") * Decimal("2.50") + Decimal("0.4") * Decimal("1.25")


def test_a_config_price_overrides_the_catalog_and_can_price_local_models():
    from providers import PriceOverride

    override = PriceOverride(input_per_mtok=Decimal("1"), output_per_mtok=Decimal("2"), cached_input_per_mtok=Decimal("0.5"))
    usage = Usage(input_tokens=1_000_000, cached_input_tokens=500_000, output_tokens=1_000_000)
    assert cost_usd("local", "llama2", usage, override) == Decimal("0.5") + Decimal("0.25") + Decimal("2")
    assert cost_usd("openai", "gpt-4-turbo", usage, override) == Decimal("2.75")


def test_a_price_in_config_reaches_the_router(tmp_path):
    import yaml

    from streams.config import DEFAULT_CONFIG_PATH, parse_config

    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["models"]["mistral"]["price"] = {"input_per_mtok": 0.2, "output_per_mtok": 0.6}
    spec = parse_config(raw).models["mistral"]
    assert spec.price.input_per_mtok == Decimal("0.2")
