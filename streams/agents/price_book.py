"""What each catalog model costs: the estimate routing and budgets reserve by, and the bill of a call."""

from __future__ import annotations

from decimal import Decimal

from providers import PriceOverride, UnknownPrice, Usage, cost_usd
from streams.config import HugaiConfig, ModelSpec

__all__ = ["PriceBook"]


class PriceBook:
    def __init__(self, config: HugaiConfig):
        self._config = config
        self._rates: dict[str, tuple[float, float]] = {}  # model -> USD per input token, per output token

    def warm_up(self) -> list[str]:
        """Load the price catalog now, not under the first requests; return models it has no price for."""
        unpriced = []
        for model, spec in self._config.models.items():
            try:
                per_input = float(price(spec, Usage(input_tokens=1_000_000))) / 1e6
                per_output = float(price(spec, Usage(output_tokens=1_000_000))) / 1e6
            except UnknownPrice:
                unpriced.append(f"{spec.provider}/{spec.api_model}")
                per_input = per_output = 0.0
            self._rates[model] = (per_input, per_output)
        return unpriced

    def estimate(self, model: str, input_tokens: int, output_tokens: int) -> float:
        if not self._rates:
            self.warm_up()
        per_input, per_output = self._rates.get(model, (0.0, 0.0))
        return input_tokens * per_input + output_tokens * per_output

    @staticmethod
    def cost(spec: ModelSpec, usage: Usage) -> float:
        """The bill of a call: every billed field of its usage, at the catalog's or the config's rates."""
        try:
            return float(price(spec, usage))
        except UnknownPrice:
            # warm_up() already warned about this model at start; the answer still goes out.
            return 0.0


def price(spec: ModelSpec, usage: Usage) -> Decimal:
    override = PriceOverride(**spec.price.model_dump()) if spec.price else None
    return cost_usd(spec.provider, spec.api_model, usage, override)
