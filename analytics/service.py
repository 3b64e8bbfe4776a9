"""The sink as a process: open the store, migrate, consume until SIGTERM, flush, exit."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

from analytics.migrate import apply_migrations
from analytics.sink import SinkConfig, TelemetrySink
from analytics.store import Store

__all__ = ["serve_sink"]

log = logging.getLogger(__name__)


def serve_sink(store: Store, config: SinkConfig, *, ready_file: Path | None = None) -> int:
    """Blocks until SIGTERM/SIGINT. Returns the number of rows written."""
    applied = apply_migrations(store)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    sink = TelemetrySink(config, store)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, sink.stop)
        task = asyncio.create_task(sink.run())
        if ready_file is not None:
            ready_file.parent.mkdir(parents=True, exist_ok=True)
            ready_file.write_text(str(os.getpid()))
        await task

    try:
        asyncio.run(main())
    finally:
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
        store.close()
    log.info("sink stopped after writing %d rows", sink.rows_written)
    return sink.rows_written
