"""`ivr report`: statistics per interval (`ivr.commands.statistics`, the default), and
`ivr report usage`: what each tenant used, per day: calls, IVR minutes, agent talk
minutes, agent seat-hours, recordings (leased seats are rented by use).

It reads the server's call records (`DATA_DIR/calls.sqlite3`, or PostgreSQL with
`--database-url`) read-only, so it works while `ivr serve` runs and on a copied database
alike; the arithmetic is `ivr.runtime.usage`.
Days are those of `--timezone`, else of the hosting file's `timezone:`, else UTC. Output:
a table with a total line per tenant, or CSV (`--format csv`, one row per tenant and day).
Exit status: 0, 2 usage problems (no records database, a bad date or zone).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from ivr.commands import statistics
from ivr.runtime.usage import (
    COLUMNS,
    CallUsage,
    DayUsage,
    RecordingUsage,
    SessionUsage,
    totals,
    usage,
)

HEADINGS = {
    "tenant": "tenant",
    "day": "day",
    "calls": "calls",
    "ivr_minutes": "IVR min",
    "agent_talk_minutes": "talk min",
    "agent_seat_hours": "seat h",
    "recordings": "recordings",
    "recording_minutes": "rec min",
    "outbound_minutes": "outbound min",
}


def configure(parser: argparse.ArgumentParser) -> None:
    statistics.configure(parser)
    sub = parser.add_subparsers(dest="report", metavar="REPORT", required=False)
    usage_parser = sub.add_parser("usage", help="per tenant per day: calls, minutes, seat-hours, recordings")
    usage_parser.add_argument(
        "--data-dir", type=Path, help="the server's data directory (default: $IVR_DATA_DIR or var)"
    )
    usage_parser.add_argument(
        "--database-url", metavar="URL", help="read PostgreSQL instead (default: $IVR_DATABASE_URL)"
    )
    usage_parser.add_argument("--tenant", help="only this tenant")
    usage_parser.add_argument(
        "--from", dest="first", metavar="DAY", help="first day, YYYY-MM-DD (default: 30 days back)"
    )
    usage_parser.add_argument(
        "--to", dest="last", metavar="DAY", help="last day, YYYY-MM-DD (default: today)"
    )
    usage_parser.add_argument("--timezone", help="whose days (default: the hosting file's, else UTC)")
    usage_parser.add_argument(
        "--hosting", type=Path, help="the hosting file, for its time zone (default: hosting.yaml)"
    )
    usage_parser.add_argument("--format", choices=("table", "csv"), default="table")


def run(args: argparse.Namespace) -> int:
    if args.report is None:
        return statistics.run(args)
    return _usage(args)


def _usage(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or Path(os.environ.get("IVR_DATA_DIR") or "var")
    database = data_dir / "calls.sqlite3"
    url = statistics.database_url(args)
    if not url and not database.is_file():
        print(f"ivr report: no call records at {database} (give --data-dir)", file=sys.stderr)
        return 2
    zone = args.timezone or _hosting_zone(args.hosting) or "UTC"
    try:
        tz = zoneinfo.ZoneInfo(zone)
        today = datetime.now(tz).date()
        last = date.fromisoformat(args.last) if args.last else today
        first = date.fromisoformat(args.first) if args.first else last - timedelta(days=29)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        print(
            f"ivr report: {exc} (days are YYYY-MM-DD; zones are names such as Asia/Shanghai)", file=sys.stderr
        )
        return 2
    if first > last:
        print("ivr report: --from is after --to", file=sys.stderr)
        return 2
    end = last + timedelta(days=1)
    since, until = datetime.combine(first, time(0), tz), datetime.combine(end, time(0), tz)
    from ivr.adapters.reports import ReportQueryError

    try:
        inputs = _usage_inputs(url, database, since, until, args.tenant)
    except ReportQueryError as exc:  # a bad URL, PostgreSQL out of reach: one line, no trace
        print(f"ivr report: {exc}", file=sys.stderr)
        return 2
    rows = usage(*inputs, zone=zone, first=first, last=end, now=datetime.now(UTC))
    if args.format == "csv":
        _csv(rows)
    else:
        _table(rows, zone, first, last)
    return 0


def _usage_inputs(
    url: str, database: Path, since: datetime, until: datetime, tenant: str | None
) -> tuple[list[CallUsage], list[SessionUsage], list[RecordingUsage]]:
    if url:
        from ivr.adapters.postgres.reports import read_postgres_usage

        return read_postgres_usage(url, since, until, tenant)
    from ivr.adapters.storage.usage import open_read_only, usage_inputs

    conn = open_read_only(str(database))
    try:
        return usage_inputs(conn, since, until, tenant)
    finally:
        conn.close()


def _hosting_zone(path: Path | None) -> str | None:
    from ivr.flowlang.hostingfile import load_hosting

    file = path or Path("hosting.yaml")
    if not file.is_file():
        return None
    hosting, _, _ = load_hosting(file)
    return hosting.timezone if hosting is not None else None


def _csv(rows: list[DayUsage]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.row())


def _table(rows: list[DayUsage], zone: str, first: date, last: date) -> None:
    lines: list[list[str]] = [[HEADINGS[c] for c in COLUMNS]]
    for tenant, total in totals(rows).items():
        for row in rows:
            if row.tenant == tenant:
                lines.append([str(v) for v in row.row().values()])
        values = total.row() | {"day": "total"}
        lines.append([str(values[c]) for c in COLUMNS])
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    print(f"usage per tenant and day ({zone}), {first} to {last}")
    for line in lines:
        cells = [
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    if len(lines) == 1:
        print("(no calls, sessions or recordings in these days)")
