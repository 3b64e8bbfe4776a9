"""Reports for analysts: the client of the sink's report endpoint, and how rows are written out.

While the stack runs, embedded chdb belongs to the sink, so reports, trends and erasure go
through its endpoint. (With a server, or with nothing running, callers use analytics.queries
on a store directly.)
"""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

__all__ = [
    "ReportUnavailable",
    "rows_from_endpoint",
    "trend_from_endpoint",
    "erase_via_endpoint",
    "replay_via_endpoint",
    "to_json",
    "to_csv",
]


class ReportUnavailable(RuntimeError):
    """The report endpoint is not answering."""


def _headers(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def rows_from_endpoint(url: str, metric: str, *, start: datetime, end: datetime, by: str, key: str | None = None) -> list[dict]:
    query = urllib.parse.urlencode({"start": start.isoformat(), "end": end.isoformat(), "by": by})
    return _get_rows(f"{url.rstrip('/')}/{urllib.parse.quote(metric)}?{query}", key)


def trend_from_endpoint(url: str, trend: str, *, start: datetime, end: datetime, key: str | None = None) -> list[dict]:
    """`url` is the reports URL; trends sit beside it."""
    query = urllib.parse.urlencode({"start": start.isoformat(), "end": end.isoformat()})
    return _get_rows(url.rstrip("/").removesuffix("/reports") + f"/trends/{urllib.parse.quote(trend)}?{query}", key)


def _get_rows(endpoint: str, key: str | None) -> list[dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(endpoint, headers=_headers(key)), timeout=30) as response:
            return json.loads(response.read())["rows"]
    except urllib.error.HTTPError as exc:
        raise ValueError(json.loads(exc.read() or b"{}").get("error") or f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ReportUnavailable(f"{endpoint} is not answering: {exc}") from None


def replay_via_endpoint(url: str, body: dict, *, key: str | None = None) -> list[dict]:
    """POST /replay on the sink that owns the store. `url` is the reports URL; replay sits beside it."""
    endpoint = url.rstrip("/").removesuffix("/reports") + "/replay"
    request = urllib.request.Request(endpoint, method="POST", data=json.dumps(body).encode(),
                                     headers={**_headers(key), "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read())["rows"]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # a sink from before replay, or one started without it
            raise ReportUnavailable(f"{endpoint} does not serve replays") from None
        raise ValueError(json.loads(exc.read() or b"{}").get("error") or f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ReportUnavailable(f"{endpoint} is not answering: {exc}") from None


def erase_via_endpoint(url: str, *, tenant: str | None, user: str | None, key: str | None = None) -> dict[str, int]:
    """POST /erase on the sink that owns the store. `url` is the reports URL; erase sits beside it."""
    query = urllib.parse.urlencode({k: v for k, v in (("tenant", tenant), ("user", user)) if v is not None})
    endpoint = url.rstrip("/").removesuffix("/reports") + f"/erase?{query}"
    try:
        request = urllib.request.Request(endpoint, method="POST", headers=_headers(key))
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())["deleted"]
    except urllib.error.HTTPError as exc:
        raise ValueError(json.loads(exc.read() or b"{}").get("error") or f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ReportUnavailable(f"{endpoint} is not answering: {exc}") from None


def to_json(reports: dict[str, list[dict]]) -> str:
    return json.dumps(reports, indent=2, default=str)


def to_csv(reports: dict[str, list[dict]]) -> str:
    """One CSV block per metric, each with its own header, separated by a blank line."""
    out = io.StringIO()
    for metric, rows in reports.items():
        columns = ["metric", *dict.fromkeys(k for row in rows for k in row)]
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({"metric": metric, **row})
        out.write("\n")
    return out.getvalue()
