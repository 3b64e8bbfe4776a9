"""Adapters over httpx for each LLM provider family. Imports no other project folder."""

from providers.base import Provider
from providers.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentRefused,
    ContextLengthExceeded,
    FatalError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    RetryableError,
)
from providers.openai import OpenAIProvider
from providers.pricing import UnknownPrice, cost_usd
from providers.simulated import SimulatedProvider
from providers.types import ChatRequest, ChatResult, Message, Usage

__all__ = [
    "Provider",
    "OpenAIProvider",
    "SimulatedProvider",
    "ChatRequest",
    "ChatResult",
    "Message",
    "Usage",
    "cost_usd",
    "UnknownPrice",
    "ProviderError",
    "RetryableError",
    "RateLimited",
    "ProviderUnavailable",
    "ProviderTimeout",
    "FatalError",
    "BadRequest",
    "AuthenticationFailed",
    "ContentRefused",
    "ContextLengthExceeded",
]
