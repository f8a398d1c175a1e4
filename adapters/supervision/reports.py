"""The historical reports of the supervisor pages: `ivr report`'s figures for one tenant.

Place: between the supervisor app's HTTP parameters and `ivr.adapters.reports` (the same
reader, the same `check_query` refusals as the command line, the same CSV); the page draws
the chart itself (inline SVG, no library). Also today's figures per queue for the wall board.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import cast, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.adapters.reports import BY, INTERVALS, Report, ReportQuery, ReportQueryError, compute, read_inputs
from ivr.adapters.reports.rows import By, Interval
from ivr.adapters.reports.sqlite import open_database

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


def run_report(database: Path, query: ReportQuery, journals: Sequence[tuple[str, Path]]) -> Report:
    """Read and compute (in a worker thread: this blocks); `ReportQueryError` as `ivr report`."""
    conn = open_database(database)
    try:
        inputs = read_inputs(conn, query, journals)
    finally:
        conn.close()
    return compute(inputs, query)


def report_json(report: Report) -> dict[str, object]:
    query = report.query
    return {
        "tenant": query.tenant,
        "by": query.by,
        "interval": query.interval,
        "zone": query.zone,
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "columns": list(report.columns),
        "rows": [{"interval": r.interval.isoformat(), "key": r.key, **r.figures} for r in report.rows],
    }


def today_by_queue(
    database: Path, tenant: str, journals: Sequence[tuple[str, Path]], now: datetime, zone: str = "UTC"
) -> dict[str, dict[str, object]]:
    """Today's figures per queue (offered, answered, abandoned, service level, ASA), from the
    records: what the wall board shows beside the ACD's live state."""
    query = parse_report(tenant, {"by": "queue", "interval": "day", "zone": zone}, now)
    report = run_report(database, query, journals)
    return {row.key: {c: row.figures.get(c) for c in TODAY_COLUMNS} for row in report.rows}


assert set(get_args(Interval)) == set(INTERVALS)
