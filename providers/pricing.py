"""What a call cost, in USD, from the genai-prices catalog. Local models cost 0."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from genai_prices import Usage as PriceUsage
from genai_prices import calc_price

from providers.types import Usage

__all__ = ["cost_usd", "UnknownPrice"]

_FREE = Decimal(0)


class UnknownPrice(LookupError):
    """The catalog has no price for this provider and model."""


def cost_usd(provider: str, model: str, usage: Usage) -> Decimal:
    """Price `usage` for `model` at `provider`. Cached input tokens are billed at the cached rate."""
    if provider == "local":
        return _FREE
    return _calc(provider, model, usage.input_tokens, usage.cached_input_tokens, usage.output_tokens)


@lru_cache(maxsize=4096)
def _calc(provider: str, model: str, input_tokens: int, cached: int, output_tokens: int) -> Decimal:
    try:
        result = calc_price(
            PriceUsage(input_tokens=input_tokens, cache_read_tokens=cached or None, output_tokens=output_tokens),
            model_ref=model,
            provider_id=provider,
        )
    except LookupError as exc:
        raise UnknownPrice(f"no price for {provider}/{model}: {exc}") from None
    return Decimal(str(result.total_price))
