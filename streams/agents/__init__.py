"""Faust agents: thin. They parse, hand off to routing and providers, and emit events."""

from streams.agents.router import register_router
from streams.agents.serve import RequestServer

__all__ = ["register_router", "RequestServer"]
