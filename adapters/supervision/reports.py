"""The historical reports of the supervisor pages: `ivr report`'s figures for one tenant.

Place: between the supervisor app's HTTP parameters and `ivr report` itself: the query is
read and checked here (`check_query`: the command line's refusals), then `ivr report` runs
in a child process (its JSON or CSV), so a report's CPU never delays the server's calls;
the page draws the chart itself (inline SVG, no library). Also today's figures per queue
for the wall board.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import cast, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import trio

from ivr.adapters.reports import BY, INTERVALS, ReportQuery, ReportQueryError
from ivr.adapters.reports.figures import COLUMNS
from ivr.adapters.reports.rows import By, Interval
from ivr.adapters.reports.sqlite import check_query

TODAY_COLUMNS = ("offered", "answered", "abandoned", "service_level_pct", "asa")


def parse_report(tenant: str, params: Mapping[str, str], now: datetime) -> ReportQuery:
    """A report of `tenant` from query parameters (`by`, `interval`, `from`, `to`, `zone`,
    `service_level`, `flow`): as `ivr report` reads its options; `ReportQueryError` when a
    parameter makes no sense (the range itself is checked by `check_query` when read)."""
    by, interval = params.get("by", "queue"), params.get("interval", "hour")
    if by not in BY or by == "tenant":
        raise ReportQueryError(f"unknown `by` {by!r}; use one of queue, flow, agent, node")
    if interval not in INTERVALS:
        raise ReportQueryError(f"unknown interval {interval!r}; use one of {', '.join(INTERVALS)}")
    zone_name = params.get("zone") or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportQueryError(
            f"unknown time zone {zone_name!r} (use a name such as Asia/Shanghai)"
        ) from None
    today = datetime.combine(now.astimezone(zone).date(), time(0), zone)
    start = _when(params["from"], zone, end=False) if params.get("from") else today
    end = _when(params["to"], zone, end=True) if params.get("to") else today + timedelta(days=1)
    try:
        threshold = float(params.get("service_level") or 20)
    except ValueError:
        raise ReportQueryError(
            f"service_level {params.get('service_level')!r} is a number of seconds"
        ) from None
    return ReportQuery(
        start,
        end,
        interval,
        cast(By, by),
        tenant,
        zone_name,
        threshold,
        {},
        params.get("flow") or None,
    )


def _when(text: str, zone: ZoneInfo, *, end: bool) -> datetime:
    try:
        if len(text) == 10:
            day = datetime.combine(datetime.fromisoformat(text).date(), time(0), zone)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ReportQueryError(
            f"cannot read {text!r} as a day or a time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


async def run_report(
    database: Path,
    query: ReportQuery,
    journals: Sequence[tuple[str, Path]],
    output: str = "json",
    *,
    database_url: str = "",
) -> str:
    """`ivr report` in a process of its own (its CPU never holds the server's GIL, so a long
    report cannot delay a call): its JSON or CSV; `ReportQueryError` with its message when it
    refuses (the query is checked here first, so most refusals cost no process). With
    `database_url` it reads PostgreSQL, the URL handed over in its environment (a command
    line is visible to every user of the machine, and the URL may hold a password)."""
    check_query(query)
    args = [sys.executable, "-m", "ivr", "report", "--db", str(database), "--by", query.by]
    args += ["--from", query.start.isoformat(), "--to", query.end.isoformat(), "--interval", query.interval]
    args += ["--timezone", query.zone, "--service-level", f"{query.service_level:g}", "--output", output]
    args += ["--tenant", query.tenant] if query.tenant is not None else []
    args += ["--flow", query.flow] if query.flow is not None else []
    for tenant, path in journals:
        args += ["--journal", f"{tenant}={path}"]
    env = {**os.environ, "IVR_DATABASE_URL": database_url} if database_url else None
    done = await trio.run_process(args, capture_stdout=True, capture_stderr=True, check=False, env=env)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines() or ["the report failed"]
        raise ReportQueryError(message[-1].removeprefix("ivr report: "))
    return done.stdout.decode("utf-8")


def report_json(text: str) -> dict[str, object]:
    """`ivr report --output json` as the page reads it: each row's key under `key`, and the
    figures' columns in order."""
    document = json.loads(text)
    by = document["by"]
    rows = [{"interval": row.pop("interval"), "key": row.pop(by), **row} for row in document["rows"]]
    return {**document, "columns": list(COLUMNS[by]), "rows": rows}


async def today_by_queue(
    database: Path,
    tenant: str,
    journals: Sequence[tuple[str, Path]],
    now: datetime,
    zone: str = "UTC",
    *,
    database_url: str = "",
) -> dict[str, dict[str, object]]:
    """Today's figures per queue (offered, answered, abandoned, service level, ASA), from the
    records: what the wall board shows beside the ACD's live state."""
    query = parse_report(tenant, {"by": "queue", "interval": "day", "zone": zone}, now)
    report = report_json(await run_report(database, query, journals, database_url=database_url))
    rows = report["rows"]
    assert isinstance(rows, list)
    return {str(row["key"]): {c: row.get(c) for c in TODAY_COLUMNS} for row in rows}


assert set(get_args(Interval)) == set(INTERVALS)
