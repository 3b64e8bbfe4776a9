"""Build each family's adapter against a local ProviderServer."""

from __future__ import annotations

import re

import httpx

from providers import AnthropicProvider, CohereProvider, GeminiProvider, OpenAIProvider, local_provider

KEY = "sk-wire-test-key-0042"
FAMILIES = ["openai", "anthropic", "google", "cohere", "local"]
MODEL = {"openai": "gpt-4-turbo", "anthropic": "claude-3-5-sonnet-20241022", "google": "gemini-pro",
         "cohere": "command", "local": "llama2"}


def adapter(family: str, client: httpx.AsyncClient, root: str, *, cohere_version: str = "v2"):  # noqa: ANN201
    if family == "openai":
        return OpenAIProvider(client=client, base_url=root + "/v1", api_key=KEY)
    if family == "anthropic":
        return AnthropicProvider(client=client, base_url=root, api_key=KEY)
    if family == "google":
        return GeminiProvider(client=client, base_url=root + "/v1beta", api_key=KEY)
    if family == "cohere":
        return CohereProvider(client=client, base_url=root, api_key=KEY, api_version=cohere_version)
    return local_provider(client=client, base_url=root + "/v1", api_key=KEY)


def camel(value: object) -> object:
    """Keys in lowerCamelCase, as proto3 JSON names them: Google's API reads either spelling, and the
    google-genai SDK sends some snake_case where we send camelCase."""
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value
