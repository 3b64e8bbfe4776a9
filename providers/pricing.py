"""What a call cost, in USD: the genai-prices catalog, or a per-model override from config.

Local models cost 0 unless an override prices them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from genai_prices import Usage as PriceUsage
from genai_prices import calc_price

from providers.types import Usage

__all__ = ["cost_usd", "UnknownPrice", "PriceOverride"]

_FREE = Decimal(0)


class UnknownPrice(LookupError):
    """The catalog has no price for this provider and model."""


_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceOverride:
    """USD per million tokens. Cached input defaults to the input rate."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None

    def cost(self, usage: Usage) -> Decimal:
        cached_rate = self.input_per_mtok if self.cached_input_per_mtok is None else self.cached_input_per_mtok
        uncached = max(0, usage.input_tokens - usage.cached_input_tokens)
        return (uncached * self.input_per_mtok + usage.cached_input_tokens * cached_rate
                + usage.output_tokens * self.output_per_mtok) / _MILLION


def cost_usd(provider: str, model: str, usage: Usage, override: PriceOverride | None = None) -> Decimal:
    """Price `usage` for `model` at `provider`. Cached input tokens are billed at the cached rate."""
    if override is not None:
        return override.cost(usage)
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
