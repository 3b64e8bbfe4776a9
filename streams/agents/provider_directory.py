"""Which Provider object serves each catalog model, decided once at start from keys and config.

A family with an API key (or, for local servers, a base URL) gets its real adapter, which asks
the key ring for the current key on every call, so rotated keys apply without a restart. A
family without a key at start is served by the simulated provider, and every result says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from providers import (
    AnthropicProvider,
    CohereProvider,
    GeminiProvider,
    KeySource,
    OpenAIProvider,
    Provider,
    SimulatedProvider,
    local_provider,
)
from streams.config import HugaiConfig, ModelSpec
from streams.config.keyring import KeyRing
from streams.config.settings import ProviderCredentials

__all__ = ["Route", "ProviderDirectory", "build_directory"]


def _adapter(family: str, client: httpx.AsyncClient, base_url: str, key: KeySource) -> Provider:
    if family == "openai":
        return OpenAIProvider(client=client, base_url=base_url, api_key=key)
    if family == "anthropic":
        return AnthropicProvider(client=client, base_url=base_url, api_key=key)
    if family == "google":
        return GeminiProvider(client=client, base_url=base_url, api_key=key)
    if family == "cohere":
        return CohereProvider(client=client, base_url=base_url, api_key=key)
    return local_provider(client=client, base_url=base_url, api_key=key)


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

    def routes(self) -> list[Route]:
        return list(self._routes.values())

    def families(self) -> dict[str, str]:
        """family -> provider type serving it, e.g. {'openai': 'openai', 'anthropic': 'simulated'}."""
        return {r.spec.provider: r.provider.provider_type for r in self._routes.values()}


def build_directory(config: HugaiConfig, credentials: ProviderCredentials, client: httpx.AsyncClient,
                    keys: KeyRing | None = None) -> ProviderDirectory:
    keys = keys or KeyRing(credentials)
    sim = config.simulated
    simulated = SimulatedProvider(base_latency_ms=sim.latency_ms.base, jitter_ms=sim.latency_ms.jitter, error_rate=sim.error_rate)
    by_family: dict[str, Provider] = {}
    for family in {spec.provider for spec in config.models.values()}:
        env_url = credentials.base_url(family)
        configured = config.providers.get(family)
        base_url = env_url or (configured.base_url if configured else None)
        has_access = keys.has_key(family) or (family == "local" and env_url is not None)
        if has_access and base_url:
            by_family[family] = _adapter(family, client, base_url, keys.source(family))
        else:
            by_family[family] = simulated
    return ProviderDirectory({name: Route(name, spec, by_family[spec.provider]) for name, spec in config.models.items()})
