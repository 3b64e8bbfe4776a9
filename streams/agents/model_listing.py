"""Which catalog models the providers actually serve to our keys, asked once at a worker's start (and
on demand by `hugai-llm config check --models`).

A catalog entry whose wire id is not in its family's model list is taken out of routing on every
worker (Breakers.mark_missing), so its fallbacks answer instead of a 404 on every request; one that is
listed again is put back. A family whose list cannot be read (no such endpoint, a network fault) is
left as it is: routing then learns of a missing model from its first 404.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from providers import ProviderError
from streams.agents.breakers import Breakers
from streams.agents.provider_directory import ProviderDirectory

__all__ = ["Listing", "list_served", "check_served_models"]

log = logging.getLogger(__name__)


@dataclass
class Listing:
    served: set[str] = field(default_factory=set)  # catalog models their provider lists
    missing: dict[str, str] = field(default_factory=dict)  # catalog model -> why it is not served
    unchecked: dict[str, str] = field(default_factory=dict)  # catalog model -> why it was not checked


async def list_served(directory: ProviderDirectory) -> Listing:
    listing = Listing()
    by_provider: dict[int, list] = {}
    for route in directory.routes():
        if hasattr(route.provider, "list_models"):  # the real adapters; the simulated provider serves anything
            by_provider.setdefault(id(route.provider), []).append(route)
        else:
            listing.unchecked[route.model] = f"{route.spec.provider} has no key: served by the simulated provider"
    for routes in by_provider.values():
        provider = routes[0].provider
        try:
            served = await provider.list_models()
        except ProviderError as exc:
            log.warning("cannot list the models %s serves (%s: %s); its catalog models stay in routing",
                        provider.provider_type, exc.code, exc.message)
            listing.unchecked |= {r.model: f"{provider.provider_type} did not list its models ({exc.code})" for r in routes}
            continue
        for route in routes:
            if route.spec.api_model in served:
                listing.served.add(route.model)
            else:
                listing.missing[route.model] = f"{route.spec.provider} does not list {route.spec.api_model} for this key"
    return listing


async def check_served_models(directory: ProviderDirectory, breakers: Breakers) -> dict[str, str]:
    """Take the models no listing shows out of routing, cluster-wide, and put back the ones it shows
    again; {catalog model: why} of those taken out."""
    listing = await list_served(directory)
    for model, why in sorted(listing.missing.items()):
        route = directory.route(model)
        log.warning("catalog model %s (%s/%s) is not served to this key: taken out of routing",
                    model, route.spec.provider, route.spec.api_model)
        await breakers.mark_missing(model, missing=True)
    for model in listing.served:
        if breakers.state(model).missing_since is not None:
            await breakers.mark_missing(model, missing=False)
    return listing.missing
