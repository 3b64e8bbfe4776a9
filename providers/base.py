"""The one interface every provider family implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from providers.types import ChatRequest, ChatResult, StreamChunk

__all__ = ["Provider"]


@runtime_checkable
class Provider(Protocol):
    """A model API. Implementations take their httpx client from the caller and never create one."""

    provider_type: str

    async def infer(self, request: ChatRequest) -> ChatResult:
        """Complete one chat request, or raise a providers.errors.ProviderError."""
        ...

    def infer_stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        """Stream text chunks; the last chunk has `result` set, with usage and timings."""
        ...
