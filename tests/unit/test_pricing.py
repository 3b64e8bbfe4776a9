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
