"""What a call cost, in USD: the genai-prices catalog, or a per-model override from config.

Every billed field of the usage is priced: cache reads at the cache-read rate, cache writes at the
cache-write rate (Anthropic's one-hour writes at theirs), reasoning tokens as the catalog prices them
(inside the output). Local models cost 0 unless an override prices them.
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
    """USD per million tokens. Cache reads and writes default to the input rate, one-hour cache writes
    to the cache-write rate, reasoning tokens (a part of the output) to the output rate."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    cache_write_1h_per_mtok: Decimal | None = None
    reasoning_per_mtok: Decimal | None = None

    def cost(self, usage: Usage) -> Decimal:
        read_rate = _or(self.cached_input_per_mtok, self.input_per_mtok)
        write_rate = _or(self.cache_write_per_mtok, self.input_per_mtok)
        write_1h_rate = _or(self.cache_write_1h_per_mtok, write_rate)
        reasoning_rate = _or(self.reasoning_per_mtok, self.output_per_mtok)
        uncached = max(0, usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens)
        writes_5m = max(0, usage.cache_write_tokens - usage.cache_write_1h_tokens)
        answer = max(0, usage.output_tokens - usage.reasoning_tokens)
        return (uncached * self.input_per_mtok + usage.cached_input_tokens * read_rate + writes_5m * write_rate
                + usage.cache_write_1h_tokens * write_1h_rate + answer * self.output_per_mtok
                + usage.reasoning_tokens * reasoning_rate) / _MILLION


def _or(rate: Decimal | None, default: Decimal) -> Decimal:
    return default if rate is None else rate


def cost_usd(provider: str, model: str, usage: Usage, override: PriceOverride | None = None) -> Decimal:
    """Price `usage` for `model` at `provider`, every billed field at its own rate."""
    if override is not None:
        return override.cost(usage)
    if provider == "local":
        return _FREE
    return _calc(provider, model, usage)


@lru_cache(maxsize=4096)
def _calc(provider: str, model: str, usage: Usage) -> Decimal:
    # genai-prices reads input_tokens as every input token, cache reads and writes included, and the
    # one-hour writes as a part of the writes, as our Usage does.
    try:
        result = calc_price(
            PriceUsage(input_tokens=usage.input_tokens, cache_read_tokens=usage.cached_input_tokens or None,
                       cache_write_tokens=usage.cache_write_tokens or None,
                       cache_write_1h_tokens=usage.cache_write_1h_tokens or None,
                       output_tokens=usage.output_tokens, output_reasoning_tokens=usage.reasoning_tokens or None),
            model_ref=model,
            provider_id=provider,
        )
    except LookupError as exc:
        raise UnknownPrice(f"no price for {provider}/{model}: {exc}") from None
    return Decimal(str(result.total_price))
