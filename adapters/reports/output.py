"""A report as a table for people, or CSV and JSON for programs.

Place: under `ivr report`. Times are the interval's start in the report's zone; a figure
that has nothing to average over is empty (CSV, table) or null (JSON); a node's exits read
`edge:count` in tables and CSV, an object in JSON.
"""

from __future__ import annotations

import csv
import io
import json

from ivr.adapters.reports.figures import Report, ReportRow


def as_json(report: Report) -> str:
    query = report.query
    document = {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "interval": query.interval,
        "by": query.by,
        "zone": query.zone,
        "tenant": query.tenant,
        "rows": [
            {"interval": row.interval.isoformat(), query.by: row.key, **row.figures} for row in report.rows
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["interval", report.query.by, *report.columns])
    for row in report.rows:
        writer.writerow([row.interval.isoformat(), row.key, *_cells(row, report.columns)])
    return out.getvalue()


def as_table(report: Report) -> str:
    query = report.query
    head = ["interval", query.by, *report.columns]
    lines = [head] + [
        [_when(row, query.interval), row.key, *_cells(row, report.columns)] for row in report.rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    span = f"{query.start:%Y-%m-%d %H:%M} to {query.end:%Y-%m-%d %H:%M}"
    text = [f"{query.by} per {query.interval} ({query.zone}), {span}"]
    for line in lines:
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        text.append("  ".join(cells).rstrip())
    if not report.rows:
        text.append("(nothing in this range)")
    return "\n".join(text) + "\n"


def _when(row: ReportRow, interval: str) -> str:
    return f"{row.interval:%Y-%m-%d}" if interval == "day" else f"{row.interval:%Y-%m-%d %H:%M}"


def _cells(row: ReportRow, columns: tuple[str, ...]) -> list[str]:
    return [_cell(row.figures.get(column)) for column in columns]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return " ".join(f"{k}:{v}" for k, v in value.items())
    return str(value)
