"""Which providers have a native batch API. OpenAI and Anthropic do; the others here do not."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from providers.types import BatchJob, ChatRequest

__all__ = ["NativeBatch", "NoNativeBatch", "native_batch"]


@runtime_checkable
class NativeBatch(Protocol):
    provider_type: str

    async def submit_batch(self, requests: list[tuple[str, ChatRequest]]) -> BatchJob: ...
    async def batch_status(self, batch_id: str) -> BatchJob: ...


class NoNativeBatch(LookupError):
    """The provider has no batch API we support; run the requests one by one with bounded parallelism."""


def native_batch(provider: object) -> NativeBatch:
    # Local servers reuse the OpenAI adapter but not its batch endpoints.
    if isinstance(provider, NativeBatch) and provider.provider_type in ("openai", "anthropic"):
        return provider
    kind = getattr(provider, "provider_type", type(provider).__name__)
    raise NoNativeBatch(
        f"{kind} has no native batch API in hugai-llm (only openai and anthropic do); "
        "send the requests individually, with bounded parallelism"
    )
