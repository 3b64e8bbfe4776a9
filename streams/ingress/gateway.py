"""The worker's own reply client for its HTTP endpoints, started on first use on the worker's loop."""

from __future__ import annotations

import asyncio
import uuid

from streams.client.reply_client import ReplyClient

__all__ = ["Gateway"]


class Gateway:
    """This worker's reply client, started on first use on the worker's own loop."""

    def __init__(self, bootstrap: str):
        self._bootstrap = bootstrap
        self._client: ReplyClient | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> ReplyClient:
        async with self._lock:
            if self._client is None:
                self._client = await ReplyClient(self._bootstrap, reply_topic=f"llm.replies.http.{uuid.uuid4().hex[:12]}").start()
        return self._client

    async def close(self) -> None:
        async with self._lock:
            if self._client is not None:
                await self._client.stop()
                self._client = None
