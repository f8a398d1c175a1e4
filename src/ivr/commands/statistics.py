"""`ivr report [--by tenant|queue|flow|agent|node|campaign]`: statistics per 15 minutes, hour or day.

The command-line face of `ivr.adapters.reports`: it reads the call records database
(`--db`, read-only, beside a running server; or PostgreSQL with `--database-url`, every
instance's calls, every tenant's campaigns and agents' journals) and the agents' journals
(found under the database's folder, `tenants/NAME/agent-journal.sqlite3`, or given with
`--journal TENANT=FILE`; with a database URL only those given, the rest are read there),
with `--by campaign` the campaign stores (found the same way, or `--campaigns
TENANT=FILE`), and prints a table, CSV or JSON. `--from`/`--to` take a day (`--to` a day
includes it) or a time (`2026-12-03T09:30`, exclusive) in `--timezone` (default UTC); the
default is today. Exit status: 0, 2 a usage problem (no database, a bad date, a range too
long for the interval), each with a one-line message.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from ivr.adapters.reports import ReportQuery
    from ivr.adapters.reports.rows import Inputs

DAY_FORMAT_HINT = "days are YYYY-MM-DD, times YYYY-MM-DDTHH:MM"


class UsageError(Exception):
    """A bad option value: exit 2 with the message."""


def configure(parser: argparse.ArgumentParser) -> None:
    from ivr.adapters.reports import BY, INTERVALS

    parser.add_argument(
        "--db", type=Path, help="the call records (default: $IVR_DATA_DIR or var, /calls.sqlite3)"
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="read the call records (and campaigns) from PostgreSQL instead (default: $IVR_DATABASE_URL)",
    )
    parser.add_argument("--from", dest="start", metavar="WHEN", help="first day or time (default: today)")
    parser.add_argument("--to", dest="end", metavar="WHEN", help="last day (included) or end time (excluded)")
    parser.add_argument("--interval", choices=tuple(INTERVALS), default="hour", help="default: hour")
    parser.add_argument("--by", choices=BY, default="queue", help="what each row is about (default: queue)")
    parser.add_argument("--tenant", dest="report_tenant", metavar="NAME", help="only this tenant")
    parser.add_argument("--flow", dest="report_flow", metavar="NAME", help="with --by node: only this flow")
    parser.add_argument(
        "--timezone", dest="report_zone", default="UTC", help="whose days and hours (default: UTC)"
    )
    parser.add_argument(
        "--service-level", action="append", default=[], metavar="[QUEUE=]SECONDS",
        help="answered within this many seconds counts as in service level (default 20); per queue: QUEUE=S",
    )  # fmt: skip
    parser.add_argument(
        "--journal", action="append", default=[], metavar="TENANT=FILE",
        help="an agents' journal (agent-journal.sqlite3) and its tenant; hosted tenants' are found"
        " (with a database URL: read there)",
    )  # fmt: skip
    parser.add_argument(
        "--campaigns", action="append", default=[], metavar="TENANT=FILE",
        help="with --by campaign: a campaign store (campaigns.sqlite3) and its tenant; hosted ones are found",
    )  # fmt: skip
    parser.add_argument("--output", dest="report_format", choices=("table", "csv", "json"), default="table")


def run(args: argparse.Namespace) -> int:
    from ivr.adapters.reports import ReportQueryError, compute, read_inputs
    from ivr.adapters.reports.output import as_csv, as_json, as_table
    from ivr.adapters.reports.sqlite import open_database

    try:
        query = _query(args)
        database: Path = args.db or Path(os.environ.get("IVR_DATA_DIR") or "var") / "calls.sqlite3"
        url = database_url(args)
        journals = _journals(args.journal, database, found=not url)
        if url:
            inputs = _postgres_inputs(url, query, journals)
        else:
            campaigns = _campaign_stores(args.campaigns, database)
            conn = open_database(database)
            try:
                inputs = read_inputs(conn, query, journals, campaigns)
            finally:
                conn.close()
    except (UsageError, ReportQueryError) as exc:
        print(f"ivr report: {exc}", file=sys.stderr)
        return 2
    report = compute(inputs, query)
    render = {"csv": as_csv, "json": as_json, "table": as_table}[args.report_format]
    sys.stdout.write(render(report))
    return 0


def database_url(args: argparse.Namespace) -> str:
    """`--database-url`, else `$IVR_DATABASE_URL`, else "" (the SQLite file)."""
    return str(args.database_url or os.environ.get("IVR_DATABASE_URL") or "")


def _postgres_inputs(url: str, query: ReportQuery, journals: list[tuple[str, Path]]) -> Inputs:
    from ivr.adapters.postgres.reports import read_postgres_inputs

    return read_postgres_inputs(url, query, journals)  # its errors are ReportQueryError


def _query(args: argparse.Namespace) -> ReportQuery:
    from ivr.adapters.reports import ReportQuery

    start, end = window(args.start, args.end, args.report_zone)
    default, per_queue = _service_levels(args.service_level)
    return ReportQuery(
        start,
        end,
        args.interval,
        args.by,
        args.report_tenant,
        args.report_zone,
        default,
        per_queue,
        args.report_flow,
    )


def window(
    first: str | None, last: str | None, zone_name: str, days_back: int = 0
) -> tuple[datetime, datetime]:
    """[start, end) from --from/--to in `zone_name`: by default today, or `days_back` days
    up to now."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {zone_name!r} (use a name such as Asia/Shanghai)") from None
    now = datetime.now(zone)
    today = datetime.combine(now.date(), time(0), zone)
    if days_back:
        default_start, default_end = now - timedelta(days=days_back), now
    else:
        default_start, default_end = today, today + timedelta(days=1)
    start = _when(first, zone, end=False) if first else default_start
    end = _when(last, zone, end=True) if last else default_end
    return start, end


def _when(text: str, zone: ZoneInfo, *, end: bool) -> datetime:
    try:
        if len(text) == 10:  # a day: from its start; --to includes the day
            day = datetime.combine(datetime.fromisoformat(text).date(), time(0), zone)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"cannot read {text!r} as a day or a time ({DAY_FORMAT_HINT})") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _service_levels(values: list[str]) -> tuple[float, dict[str, float]]:
    from ivr.adapters.reports.rows import DEFAULT_SERVICE_LEVEL

    default, per_queue = DEFAULT_SERVICE_LEVEL, {}
    for value in values:
        queue, _, seconds = value.rpartition("=")
        try:
            number = float(seconds)
        except ValueError:
            raise UsageError(
                f"--service-level {value!r}: give SECONDS or QUEUE=SECONDS, such as orders=30"
            ) from None
        if queue:
            per_queue[queue] = number
        else:
            default = number
    return default, per_queue


def _journals(given: list[str], database: Path, *, found: bool = True) -> list[tuple[str, Path]]:
    """The given journals, and (`found`) each hosted tenant's file beside the records; with a
    database URL the tenants' journals are in the database, and stale files are not read."""
    journals = _per_tenant("--journal", given, database, "agent-journal.sqlite3")
    return journals if found else [(tenant, path) for tenant, path in journals if tenant in _named(given)]


def _named(given: list[str]) -> set[str]:
    return {value.partition("=")[0] for value in given}


def _campaign_stores(given: list[str], database: Path) -> list[tuple[str, Path]]:
    """The given stores, each hosted tenant's (`tenants/NAME/campaigns.sqlite3`) and a plain
    folder's (`campaigns.sqlite3` beside the records; its tenant unnamed)."""
    stores = _per_tenant("--campaigns", given, database, "campaigns.sqlite3")
    if not given and (database.parent / "campaigns.sqlite3").is_file():
        stores.append(("", database.parent / "campaigns.sqlite3"))
    return stores


def _per_tenant(option: str, given: list[str], database: Path, name: str) -> list[tuple[str, Path]]:
    files = []
    for value in given:
        tenant, sep, file = value.partition("=")
        if not sep or not tenant or not file:
            raise UsageError(f"{option} {value!r}: give TENANT=FILE, such as brokerage=var/{name}")
        files.append((tenant, Path(file)))
    named = {tenant for tenant, _ in files}
    for found in sorted(database.parent.glob(f"tenants/*/{name}")):
        if found.parent.name not in named:
            files.append((found.parent.name, found))
    return files
