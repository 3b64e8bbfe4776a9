"""The sink as a process: open the store, migrate, serve reports, consume until SIGTERM, flush, exit."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from aiohttp import web

from analytics.migrate import apply_migrations
from analytics.report_server import Authorize, report_app
from analytics.retention import apply_retention
from analytics.sink import SinkConfig, TelemetrySink
from analytics.store import LockedStore, Store

__all__ = ["serve_sink"]

log = logging.getLogger(__name__)


def serve_sink(
    store: Store,
    config: SinkConfig,
    *,
    ready_file: Path | None = None,
    report_host: str = "127.0.0.1",
    report_port: int | None = None,
    daily_budgets: dict[str, Decimal] | None = None,
    retention: timedelta | None = None,
    authorize: Authorize | None = None,
    background: Sequence[Callable[[Store], Awaitable[None]]] = (),
    replay: Callable[[Store, dict], list[dict]] | None = None,
) -> int:
    """Blocks until SIGTERM/SIGINT. Returns the number of rows written. Serves reports when report_port is set.
    `background`: loops run beside the sink on its store (the live-quality feed), cancelled when it stops."""
    store = LockedStore(store)
    applied = apply_migrations(store)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    if retention is not None:
        apply_retention(store, retention)
        log.info("per-request data expires after %s", retention)
    sink = TelemetrySink(config, store)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, sink.stop)
        task = asyncio.create_task(sink.run())
        runner = None
        if report_port is not None:
            app = report_app(store, daily_budgets=daily_budgets or {}, replay=replay,
                             **({"authorize": authorize} if authorize else {}))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, report_host, report_port).start()
            log.info("reports at http://%s:%d/reports", report_host, report_port)
        if ready_file is not None:
            ready_file.parent.mkdir(parents=True, exist_ok=True)
            ready_file.write_text(str(os.getpid()))
        loops = [asyncio.create_task(work(store)) for work in background]
        try:
            await task
        finally:
            for loop_task in loops:
                loop_task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            if runner is not None:
                await runner.cleanup()

    try:
        asyncio.run(main())
    finally:
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
        store.close()
    log.info("sink stopped after writing %d rows", sink.rows_written)
    return sink.rows_written
