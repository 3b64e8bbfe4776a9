"""Named reports over HTTP, served by the process that owns the store (embedded chdb allows one).

    GET /reports                       {"metrics": {name: description}}
    GET /reports/NAME?start=&end=&by=  {"metric": NAME, "rows": [...]}   (ISO 8601 times, UTC)
    GET /trends/NAME?start=&end=       {"trend": NAME, "rows": [{group, t, value}]}
    POST /erase?tenant=T (or user=U)   {"deleted": {table: rows}}       GDPR erasure
    POST /replay  {"config": YAML, "start", "end", "by"}  {"rows": [...]}  what a candidate config would
                                       have done with the recorded traffic (when the sink was given it)
Only named operations run; no SQL is accepted from the network. It binds to 127.0.0.1 by default.
`authorize(authorization_header, role)` returns None to allow, or 401/403 to refuse: reports and
trends need the analyst role, erasure the operator role.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from aiohttp import web

from analytics.erase import erase_subject
from analytics.queries import METRICS, UnknownMetric, run_metric, run_trend
from analytics.store import Store, StoreError

__all__ = ["report_app", "parse_time", "Authorize"]

Authorize = Callable[[str | None, str], int | None]


def parse_time(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _allow_all(header: str | None, role: str) -> int | None:
    return None


def report_app(store: Store, *, daily_budgets: dict[str, Decimal], authorize: Authorize = _allow_all,
               replay: Callable[[Store, dict], list[dict]] | None = None) -> web.Application:
    """`replay(store, body)`: the replay, given by the process that runs the sink (it needs the router's
    routing, which analytics does not import); without it, POST /replay is not served."""
    def refused(request: web.Request, role: str) -> web.Response | None:
        status = authorize(request.headers.get("Authorization"), role)
        if status is None:
            return None
        reason = "missing or unknown API key" if status == 401 else f"the key lacks the {role} role"
        return web.json_response({"error": reason}, status=status)

    async def index(request: web.Request) -> web.Response:
        if (denied := refused(request, "analyst")) is not None:
            return denied
        return web.json_response({"metrics": {name: m.description for name, m in METRICS.items()}})

    async def answer(request: web.Request, role: str, work: Callable[[], object],
                     body: Callable[[object], dict]) -> web.Response:
        """Check the role, run `work` off the event loop, map our errors to statuses, wrap the result in `body`."""
        if (denied := refused(request, role)) is not None:
            return denied
        try:
            result = await asyncio.to_thread(work)
        except UnknownMetric as exc:
            return web.json_response({"error": str(exc.args[0])}, status=404)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except StoreError as exc:
            return web.json_response({"error": f"ClickHouse: {exc}"}, status=503)
        return web.json_response(body(result))

    def window(request: web.Request, default: timedelta) -> tuple[datetime, datetime]:
        now = datetime.now(timezone.utc)
        return parse_time(request.query.get("start"), now - default), parse_time(request.query.get("end"), now)

    async def report(request: web.Request) -> web.Response:
        def work() -> list[dict]:
            start, end = window(request, timedelta(days=1))
            return run_metric(store, request.match_info["name"], start=start, end=end,
                              by=request.query.get("by", "model"), daily_budgets=daily_budgets)

        return await answer(request, "analyst", work, lambda rows: {"metric": request.match_info["name"], "rows": rows})

    async def trend(request: web.Request) -> web.Response:
        def work() -> list[dict]:
            start, end = window(request, timedelta(days=7))
            return run_trend(store, request.match_info["name"], start=start, end=end)

        return await answer(request, "analyst", work, lambda rows: {"trend": request.match_info["name"], "rows": rows})

    async def erase(request: web.Request) -> web.Response:
        return await answer(request, "operator",
                            lambda: erase_subject(store, tenant=request.query.get("tenant"), user=request.query.get("user")),
                            lambda deleted: {"deleted": deleted})

    async def replay_view(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "the body must be a JSON object"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "the body must be a JSON object"}, status=400)
        return await answer(request, "analyst", lambda: replay(store, body), lambda rows: {"rows": rows})

    app = web.Application(client_max_size=4 * 1024 * 1024)  # a posted config is a few KiB
    app.router.add_get("/reports", index)
    app.router.add_get("/reports/{name}", report)
    app.router.add_get("/trends/{name}", trend)
    app.router.add_post("/erase", erase)
    if replay is not None:
        app.router.add_post("/replay", replay_view)
    return app
