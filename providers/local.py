"""Local OpenAI-compatible servers: Ollama, vLLM, llama.cpp server. The OpenAI wire code, reused."""

from __future__ import annotations

import httpx

from providers.keys import KeySource
from providers.openai import OpenAIProvider

__all__ = ["PROVIDER_TYPE", "local_provider"]

PROVIDER_TYPE = "local"


def local_provider(*, client: httpx.AsyncClient, base_url: str, api_key: str | None | KeySource = None) -> OpenAIProvider:
    """Most local servers need no key; vLLM can be started with one."""
    return OpenAIProvider(client=client, base_url=base_url, api_key=api_key, provider_type=PROVIDER_TYPE)
