"""Which catalog models the providers actually serve to our keys, asked once at a worker's start.

A catalog entry whose wire id is not in its family's model list is taken out of routing on every
worker (Breakers.mark_missing), so its fallbacks answer instead of a 404 on every request; one that is
listed again is put back. A family whose list cannot be read (no such endpoint, a network fault) is
left as it is: routing then learns of a missing model from its first 404.
"""

from __future__ import annotations

import logging

from providers import ProviderError
from streams.agents.breakers import Breakers
from streams.agents.provider_directory import ProviderDirectory

__all__ = ["check_served_models"]

log = logging.getLogger(__name__)


async def check_served_models(directory: ProviderDirectory, breakers: Breakers) -> dict[str, str]:
    """{catalog model: why it is out of routing} for the models no listing shows."""
    by_provider: dict[int, list] = {}
    for route in directory.routes():
        if hasattr(route.provider, "list_models"):  # the real adapters; the simulated provider serves anything
            by_provider.setdefault(id(route.provider), []).append(route)
    missing: dict[str, str] = {}
    for routes in by_provider.values():
        provider = routes[0].provider
        try:
            served = await provider.list_models()
        except ProviderError as exc:
            log.warning("cannot list the models %s serves (%s: %s); its catalog models stay in routing",
                        provider.provider_type, exc.code, exc.message)
            continue
        for route in routes:
            absent = route.spec.api_model not in served
            if absent:
                missing[route.model] = f"{route.spec.provider} does not list {route.spec.api_model} for this key"
                log.warning("catalog model %s (%s/%s) is not served to this key: taken out of routing",
                            route.model, route.spec.provider, route.spec.api_model)
            if absent or breakers.state(route.model).missing_since is not None:
                await breakers.mark_missing(route.model, missing=absent)
    return missing
