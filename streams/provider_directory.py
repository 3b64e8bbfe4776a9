"""Which Provider object serves each catalog model, decided once at start from keys and config.

A family with an API key (or, for local servers, a base URL) gets its real adapter. A family
without one is served by the simulated provider, and every result it makes says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from providers import OpenAIProvider, Provider, SimulatedProvider
from streams.config import HugaiConfig, ModelSpec
from streams.settings import ProviderCredentials

__all__ = ["Route", "ProviderDirectory", "build_directory"]

# Families whose wire adapter exists. Local servers speak the OpenAI format.
_ADAPTERS = {"openai", "local"}


@dataclass(frozen=True, slots=True)
class Route:
    model: str
    spec: ModelSpec
    provider: Provider

    @property
    def simulated(self) -> bool:
        return self.provider.provider_type == "simulated"


class ProviderDirectory:
    def __init__(self, routes: dict[str, Route]):
        self._routes = routes

    def route(self, model: str) -> Route:
        return self._routes[model]

    def families(self) -> dict[str, str]:
        """family -> provider type serving it, e.g. {'openai': 'openai', 'anthropic': 'simulated'}."""
        return {r.spec.provider: r.provider.provider_type for r in self._routes.values()}


def build_directory(config: HugaiConfig, credentials: ProviderCredentials, client: httpx.AsyncClient) -> ProviderDirectory:
    sim = config.simulated
    simulated = SimulatedProvider(base_latency_ms=sim.latency_ms.base, jitter_ms=sim.latency_ms.jitter, error_rate=sim.error_rate)
    by_family: dict[str, Provider] = {}
    for family in {spec.provider for spec in config.models.values()}:
        key = credentials.api_key(family)
        env_url = credentials.base_url(family)
        configured = config.providers.get(family)
        base_url = env_url or (configured.base_url if configured else None)
        has_access = bool(key) or (family == "local" and env_url is not None)
        if family in _ADAPTERS and has_access and base_url:
            by_family[family] = OpenAIProvider(client=client, base_url=base_url, api_key=key, provider_type=family)
        else:
            by_family[family] = simulated
    return ProviderDirectory({name: Route(name, spec, by_family[spec.provider]) for name, spec in config.models.items()})
