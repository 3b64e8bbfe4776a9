"""`hugai-llm config check --models`: the catalog against what each keyed provider lists for our keys."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.table import Table

from providers import make_client
from streams.agents.model_listing import Listing, list_served
from streams.agents.provider_directory import build_directory
from streams.config import HugaiConfig
from streams.config.settings import ProviderCredentials

__all__ = ["print_served"]


async def _listing(config: HugaiConfig) -> Listing:
    async with make_client(connect_timeout=config.http.connect_timeout.total_seconds(),
                           read_timeout=config.http.read_timeout.total_seconds()) as client:
        return await list_served(build_directory(config, ProviderCredentials(), client))


def print_served(config: HugaiConfig, console: Console) -> bool:
    """Print each catalog model's standing; True when no keyed provider lacks one."""
    listing = asyncio.run(_listing(config))
    table = Table(title="catalog models against the providers' lists")
    for column in ("model", "family", "wire id", "standing"):
        table.add_column(column)
    for model, spec in config.models.items():
        standing = ("served" if model in listing.served else f"NOT SERVED: {listing.missing[model]}"
                    if model in listing.missing else f"not checked: {listing.unchecked.get(model, '?')}")
        table.add_row(model, spec.provider, spec.api_model, standing)
    console.print(table)
    for model, why in sorted(listing.missing.items()):  # one line each, whole, whatever the terminal's width
        console.print(f"not served: {model} ({why})", highlight=False, markup=False, soft_wrap=True)
    return not listing.missing
