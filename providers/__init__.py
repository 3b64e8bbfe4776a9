"""Adapters over httpx for each LLM provider family. Imports no other project folder."""

from providers.anthropic import AnthropicProvider
from providers.base import Provider
from providers.batch import NativeBatch, NoNativeBatch, native_batch
from providers.cohere import CohereProvider
from providers.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentRefused,
    ContextLengthExceeded,
    FatalError,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    RetryableError,
)
from providers.gemini import GeminiProvider
from providers.http import make_client
from providers.keys import KeySource, key_source
from providers.local import local_provider
from providers.openai import OpenAIProvider
from providers.pricing import PriceOverride, UnknownPrice, cost_usd
from providers.ratelimit import RateLimiter, TokenBucket
from providers.simulated import SimulatedProvider
from providers.types import BatchJob, ChatRequest, ChatResult, EmbedResult, Message, StreamChunk, Usage

__all__ = [
    "Provider",
    "OpenAIProvider",
    "AnthropicProvider",
    "GeminiProvider",
    "CohereProvider",
    "local_provider",
    "SimulatedProvider",
    "make_client",
    "KeySource",
    "key_source",
    "ChatRequest",
    "ChatResult",
    "StreamChunk",
    "EmbedResult",
    "BatchJob",
    "Message",
    "Usage",
    "cost_usd",
    "PriceOverride",
    "UnknownPrice",
    "RateLimiter",
    "TokenBucket",
    "NativeBatch",
    "NoNativeBatch",
    "native_batch",
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
    "ModelNotFound",
]
