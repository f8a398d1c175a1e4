"""`ivr report` and `ivr draw --stats` on a records database written by known traffic, and
the clear errors that absurd or broken requests get (never a traceback, never a full scan)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from query_plans import table_scans, traced
from reports_support import T0, TENANT

from ivr.adapters.reports import ReportQuery, read_inputs
from ivr.cli import main


def report(site: Path, capsys: pytest.CaptureFixture[str], *options: str) -> str:
    code = main(
        [
            "report",
            "--db",
            str(site / "calls.sqlite3"),
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-01",
            *options,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def test_json_output_has_the_hand_counted_queue_figures(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(report(site, capsys, "--by", "queue", "--output", "json"))
    [row] = document["rows"]
    assert row["interval"] == "2026-12-01T09:00:00+00:00" and row["queue"] == "general"
    assert (row["offered"], row["answered"], row["abandoned"], row["service_level_pct"]) == (3, 2, 1, 50.0)
    assert (row["asa"], row["abandon_wait_avg"], row["aht"]) == (24.5, 20.0, 50.0)


def test_csv_output_has_one_row_per_interval_and_agent(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = list(csv.DictReader(io.StringIO(report(site, capsys, "--by", "agent", "--output", "csv"))))
    assert [(r["interval"], r["agent"], r["calls"], r["occupancy_pct"]) for r in rows] == [
        ("2026-12-01T09:00:00+00:00", "a1", "2", "51.5")
    ]
    assert rows[0]["ready"] == "94.0"  # the journal was found under tenants/bank/


def test_a_table_in_shanghai_days_shows_the_flows_nodes(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = report(site, capsys, "--by", "node", "--interval", "day", "--timezone", "Asia/Shanghai")
    lines = out.splitlines()
    assert lines[0].startswith("node per day (Asia/Shanghai)")
    pick = next(line for line in lines if "main.pick" in line)
    assert pick.split() == ["2026-12-01", "main.pick", "5", "1:1", "2:3", "1", "0"]


def test_the_default_report_is_today_and_may_be_empty(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(site / "calls.sqlite3")]) == 0
    assert "(nothing in this range)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--from", "2026-12-02", "--to", "2026-11-30"], "must be after --from"),
        (
            ["--from", "2026-01-01", "--to", "2026-12-01", "--interval", "15m"],
            "at most 31 days with --interval 15m",
        ),
        (["--from", "2020-01-01", "--to", "2026-12-01", "--interval", "day"], "at most 366 days"),
        (["--from", "yesterday"], "cannot read 'yesterday' as a day or a time"),
        (["--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["--service-level", "fast"], "give SECONDS or QUEUE=SECONDS"),
        (["--service-level", "general=0"], "of queue 'general' must be 1 to 3600 seconds"),
        (["--journal", "nothing"], "give TENANT=FILE"),
    ],
)
def test_absurd_requests_get_one_clear_line(
    site: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    assert main(["report", "--db", str(site / "calls.sqlite3"), *options]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("ivr report: ") and "Traceback" not in err


def test_a_missing_database_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(tmp_path / "none.sqlite3")]) == 2
    assert f"no call records at {tmp_path / 'none.sqlite3'}" in capsys.readouterr().err


def test_the_usage_report_still_answers(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "usage", "--data-dir", str(site), "--from", "2026-12-01", "--to", "2026-12-01"])
    assert code == 0 and "bank" in capsys.readouterr().out


@pytest.mark.parametrize("tenant", [None, TENANT])
def test_every_query_of_a_report_searches_an_index_and_scans_no_table(site: Path, tenant: str | None) -> None:
    conn = sqlite3.connect(site / "calls.sqlite3")
    query = ReportQuery(T0, T0 + timedelta(hours=1), by="agent", tenant=tenant)
    with traced(conn) as statements:
        read_inputs(conn, query)
    assert len(statements) == 3  # calls, their events, agent sessions
    assert table_scans(conn, statements) == []


def draw(site: Path, *options: str) -> str:
    out = site / "main.dot"
    code = main(
        [
            "draw",
            str(site / "flows" / "main.yaml"),
            "--stats",
            str(site / "calls.sqlite3"),
            "-o",
            str(out),
            *options,
        ]
    )
    assert code == 0
    return out.read_text(encoding="utf-8")


def test_the_drawing_carries_visits_exits_and_drop_off(site: Path) -> None:
    dot = draw(site, "--from", "2026-12-01", "--to", "2026-12-01")
    assert "main (" in dot and ": 5 calls, 2026-12-01 00:00 to 2026-12-02 00:00 UTC" in dot
    assert "5 visits (100% of calls)" in dot and "1 hung up (20%)" in dot  # the menu
    assert "3 visits (60% of calls)" in dot and "1 hung up (33%)" in dot  # the queue
    assert "<B>3</B> (75%)" in dot and "<B>1</B> (25%)" in dot  # keys 2 and 1 of the menu
    pick = next(line for line in dot.splitlines() if line.strip().startswith("pick ["))
    assert 'fillcolor="#42a5f5"' in pick and 'color="#d32f2f"' in pick and "penwidth=3" in pick
    nobody = [line for line in dot.splitlines() if "<B>0</B>" in line]
    assert nobody and all("style=dotted" in line for line in nobody)  # no_input, no_match: never taken


def test_a_range_without_calls_draws_every_node_unvisited(site: Path) -> None:
    dot = draw(site, "--from", "2026-11-01", "--to", "2026-11-02")
    assert ": 0 calls" in dot and "0 visits (0% of calls)" in dot and "#f5f5f5" in dot


def test_the_traffic_drawing_renders_with_graphviz(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Also the picture in docs/reports.md (IVR_SCREENSHOTS=docs/images to refresh it)."""
    args = ["draw", str(site / "flows" / "main.yaml"), "--stats", str(site / "calls.sqlite3")]
    args += ["--from", "2026-12-01", "--to", "2026-12-01"]
    assert main([*args, "-o", str(site / "main.svg")]) == 0
    svg = (site / "main.svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "5 visits (100% of calls)" in svg
    assert capsys.readouterr().err == ""  # a clean flow: no diagnostics
    png = site / "main-traffic.png"
    assert main([*args, "-o", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    if folder := os.environ.get("IVR_SCREENSHOTS"):
        shutil.copy(png, Path(folder) / "reports-draw-stats.png")


def test_draw_stats_refuses_a_bad_range(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["draw", str(site / "flows" / "main.yaml"), "--stats", str(site / "calls.sqlite3")]
    assert main([*args, "--from", "2026-12-02", "--to", "2026-12-01"]) == 2
    assert "must be after --from" in capsys.readouterr().err
    assert main(["draw", str(site / "flows" / "main.yaml"), "--stats", str(site / "nope.sqlite3")]) == 2
    assert "no call records at" in capsys.readouterr().err
