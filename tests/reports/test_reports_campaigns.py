"""`ivr report --by campaign`: outbound outcomes per campaign and interval, from a campaign
store found under the data directory, against the hand count of
`reports_support.CAMPAIGN_ATTEMPTS`; every query through an index."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from query_plans import table_scans
from reports_support import T0, TENANT

from ivr.adapters.reports import ReportQuery, read_inputs
from ivr.adapters.reports.sqlite import open_database
from ivr.cli import main


def rows(site: Path, capsys: pytest.CaptureFixture[str], *options: str) -> list[dict[str, object]]:
    db = str(site / "calls.sqlite3")
    code = main(["report", "--db", db, "--by", "campaign", "--output", "json", *options])
    assert code == 0
    found: list[dict[str, object]] = json.loads(capsys.readouterr().out)["rows"]
    return found


def test_hourly_outcomes_per_campaign_match_the_hand_count(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = rows(site, capsys, "--from", "2026-12-01", "--to", "2026-12-01")
    assert found == [
        {
            "interval": "2026-12-01T09:00:00+00:00", "campaign": "dividend_notice",
            "attempts": 2, "answered": 2,
            "machine": 0, "busy": 0, "no_answer": 0, "failed": 0, "other": 0, "in_progress": 0,
            "answered_pct": 100.0, "opted_out": 0,
        },
        {
            "interval": "2026-12-01T09:00:00+00:00", "campaign": "margin_call", "attempts": 8, "answered": 1,
            "machine": 1, "busy": 1, "no_answer": 2, "failed": 1, "other": 1, "in_progress": 1,
            "answered_pct": 12.5, "opted_out": 1,
        },
        {
            "interval": "2026-12-01T10:00:00+00:00", "campaign": "margin_call", "attempts": 2, "answered": 1,
            "machine": 0, "busy": 1, "no_answer": 0, "failed": 0, "other": 0, "in_progress": 0,
            "answered_pct": 50.0, "opted_out": 1,
        },
    ]  # fmt: skip


def test_quarter_hours_and_a_tenant_filter(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = rows(site, capsys, "--from", "2026-12-01T09:00", "--to", "2026-12-01T09:30", "--interval", "15m")
    margin = [
        (r["interval"][11:16], r["attempts"], r["busy"]) for r in found if r["campaign"] == "margin_call"
    ]  # type: ignore[index]
    assert margin == [("09:00", 3, 1), ("09:15", 2, 0)]  # 09:05, 09:06, 09:10 | 09:20, 09:21
    assert rows(site, capsys, "--from", "2026-12-01", "--to", "2026-12-01", "--tenant", "another") == []


def test_every_query_of_a_campaign_report_searches_an_index(site: Path) -> None:
    store = site / "tenants" / TENANT / "campaigns.sqlite3"
    statements: list[str] = []
    real = sqlite3.connect

    def traced(*args: object, **kwargs: object) -> sqlite3.Connection:
        conn = real(*args, **kwargs)  # type: ignore[call-overload]
        conn.set_trace_callback(statements.append)
        return conn

    query = ReportQuery(T0, T0 + timedelta(hours=2), by="campaign")
    conn = open_database(site / "calls.sqlite3")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sqlite3, "connect", traced)
        inputs = read_inputs(conn, query, campaigns=[(TENANT, store)])
    conn.close()
    assert len(inputs.attempts) == 12 and len(inputs.opt_outs) == 2
    assert len(statements) == 2
    plans = sqlite3.connect(store)
    assert table_scans(plans, statements) == []
    plans.close()
