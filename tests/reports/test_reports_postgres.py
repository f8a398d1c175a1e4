"""Reports from PostgreSQL equal reports from SQLite: the five calls of `reports_support`
(engine, ACD, journals) copied into a PostgreSQL database through the PostgreSQL stores give
the same figures by every `--by`, the same usage, and `ivr report --database-url` prints
them; a database out of reach is one line."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from reports_support import T0, TENANT, seed_campaign_store

from ivr.adapters.cti.audit import SqliteAgentJournal
from ivr.adapters.postgres.agent_journal import open_postgres_agent_journal
from ivr.adapters.postgres.campaigns import open_postgres_campaign_store
from ivr.adapters.postgres.records import open_postgres_call_records
from ivr.adapters.postgres.reports import read_postgres_inputs, read_postgres_usage
from ivr.adapters.reports import BY, ReportQuery, compute, read_inputs
from ivr.adapters.reports.output import as_json
from ivr.adapters.reports.sqlite import open_database
from ivr.adapters.storage import reads
from ivr.adapters.storage.codec import decode_time
from ivr.adapters.storage.usage import open_read_only, usage_inputs
from ivr.adapters.supervision.reports import parse_report, run_report
from ivr.cli import main


async def copy_site(site: Path, url: str) -> None:
    """Every call, event and agent session of the site's SQLite records into PostgreSQL, in
    the order written, and the site's campaigns into the tenant's schema."""
    source = sqlite3.connect(f"file:{site / 'calls.sqlite3'}?mode=ro", uri=True)
    try:
        calls = reads.list_calls(source, flow=None, how=None, since=None, until=None, limit=10**6)
        events = {call.call_id: reads.events(source, call.call_id) for call in calls}
        sessions = source.execute(
            "SELECT tenant, agent, login_at, seen_at, logout_at FROM agent_sessions ORDER BY session_id"
        ).fetchall()
    finally:
        source.close()
    async with open_postgres_call_records(url, instance="copy") as store:
        for call in reversed(calls):
            await store.call_started(
                call.call_id,
                flow=call.flow,
                caller=call.caller,
                dialed=call.dialed,
                at=call.started_at,
                tenant=call.tenant,
                version=call.version,
                channel=call.channel,
            )
            for event in events[call.call_id]:
                await store.call_event(event)
            if call.how is not None and call.ended_at is not None:
                await store.call_ended(call.call_id, how=call.how, at=call.ended_at)
        for tenant, agent, login, seen, logout in sessions:
            session = await store.agent_logged_in(tenant, agent, decode_time(login))
            await store.agents_seen([session], decode_time(seen))
            if logout is not None:
                await store.agent_logged_out(session, decode_time(logout))
    async with open_postgres_campaign_store(url, schema=f"tenant_{TENANT}") as campaigns:
        await seed_campaign_store(campaigns)


@pytest.fixture
async def copied(site: Path, postgres_url: str) -> str:
    await copy_site(site, postgres_url)
    return postgres_url


def query(by: str) -> ReportQuery:
    return ReportQuery(T0 - timedelta(hours=1), T0 + timedelta(hours=2), "hour", by, None, "UTC")  # type: ignore[arg-type]


async def test_every_report_from_postgresql_equals_the_one_from_sqlite(site: Path, copied: str) -> None:
    journals = [(TENANT, site / "tenants" / TENANT / "agent-journal.sqlite3")]
    campaigns = [(TENANT, site / "tenants" / TENANT / "campaigns.sqlite3")]
    for by in BY:
        conn = open_database(site / "calls.sqlite3")
        try:
            from_sqlite = compute(read_inputs(conn, query(by), journals, campaigns), query(by))
        finally:
            conn.close()
        from_postgres = compute(read_postgres_inputs(copied, query(by), journals), query(by))
        assert from_sqlite.rows, by  # the story has figures for every report
        assert as_json(from_postgres) == as_json(from_sqlite), by


async def test_agents_states_read_from_the_databases_journal_equal_those_of_the_file(
    site: Path, copied: str
) -> None:
    """Every instance writes its agents' lines into the tenant's journal in the database: a
    report by agent or queue reads them there, and equals the one from the journal file."""
    journals = [(TENANT, site / "tenants" / TENANT / "agent-journal.sqlite3")]
    file_journal = await SqliteAgentJournal.open(journals[0][1])
    lines = await file_journal.events()
    async with (
        open_postgres_agent_journal(copied, instance="a", schema=f"tenant_{TENANT}") as a,
        open_postgres_agent_journal(copied, instance="b", schema=f"tenant_{TENANT}") as b,
    ):
        for n, line in enumerate(lines):  # as two instances would, each its own lines
            await (a if n % 2 else b).record(line)
    assert any(line.kind == "state" for line in lines)
    for by in ("agent", "queue"):
        from_file = compute(read_postgres_inputs(copied, query(by), journals), query(by))
        from_database = compute(read_postgres_inputs(copied, query(by)), query(by))
        assert from_file.rows, by
        assert as_json(from_database) == as_json(from_file), by


async def test_usage_from_postgresql_equals_usage_from_sqlite(site: Path, copied: str) -> None:
    since, until = T0 - timedelta(days=1), T0 + timedelta(days=1)
    conn = open_read_only(str(site / "calls.sqlite3"))
    try:
        expected = usage_inputs(conn, since, until)
    finally:
        conn.close()
    assert read_postgres_usage(copied, since, until) == expected


async def test_ivr_report_reads_postgresql_with_a_database_url(
    copied: str, capsys: pytest.CaptureFixture[str]
) -> None:
    day = f"{T0:%Y-%m-%d}"
    assert main(["report", "--database-url", copied, "--from", day, "--to", day, "--output", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["rows"]
    assert (row["queue"], row["offered"], row["answered"], row["abandoned"]) == ("general", 3, 2, 1)
    assert (
        main(["report", "usage", "--database-url", copied, "--from", day, "--to", day, "--format", "csv"])
        == 0
    )
    assert f"{TENANT},{day},5," in capsys.readouterr().out


async def test_ivr_report_with_a_url_reads_the_agents_journal_there_not_the_files_beside_the_db(
    site: Path, copied: str, capsys: pytest.CaptureFixture[str]
) -> None:
    day = f"{T0:%Y-%m-%d}"
    by_agent = ["report", "--by", "agent", "--from", day, "--to", day, "--output", "json"]
    assert main([*by_agent, "--db", str(site / "calls.sqlite3")]) == 0  # the file, found beside
    from_file = json.loads(capsys.readouterr().out)
    assert main([*by_agent, "--db", str(site / "calls.sqlite3"), "--database-url", copied]) == 0
    without_lines = json.loads(capsys.readouterr().out)  # the database has no journal lines yet
    assert without_lines != from_file
    file_journal = await SqliteAgentJournal.open(site / "tenants" / TENANT / "agent-journal.sqlite3")
    async with open_postgres_agent_journal(copied, instance="a", schema=f"tenant_{TENANT}") as shared:
        for line in await file_journal.events():
            await shared.record(line)
    assert main([*by_agent, "--db", str(site / "calls.sqlite3"), "--database-url", copied]) == 0
    assert json.loads(capsys.readouterr().out) == from_file


def test_a_report_from_a_database_out_of_reach_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://ivr:hunter2@127.0.0.1:1/ivr"
    assert main(["report", "--database-url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ivr report: cannot read the call records in PostgreSQL at ivr@127.0.0.1:1/ivr:")
    assert err.count("\n") == 1 and "hunter2" not in err


async def test_the_traffic_drawing_from_postgresql_equals_the_one_from_sqlite(
    site: Path, copied: str
) -> None:
    flow = str(site / "flows" / "main.yaml")
    drawn = {}
    for source in (str(site / "calls.sqlite3"), copied):
        out = site / "pg-main.dot"
        assert (
            main(
                [
                    "draw",
                    flow,
                    "--stats",
                    source,
                    "-o",
                    str(out),
                    "--from",
                    "2026-12-01",
                    "--to",
                    "2026-12-01",
                ]
            )
            == 0
        )
        drawn[source] = out.read_text(encoding="utf-8")
    assert drawn[copied] == drawn[str(site / "calls.sqlite3")] and "5 visits (100% of calls)" in drawn[copied]


def test_a_malformed_database_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--database-url", "postgresql://ivr:hunter2@db/ivr?nosuch=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ivr report: the database URL cannot be read") and "hunter2" not in err


async def test_the_supervisor_pages_report_reads_postgresql_given_its_url(site: Path, copied: str) -> None:
    journals = [(TENANT, site / "tenants" / TENANT / "agent-journal.sqlite3")]
    day = {"from": f"{T0:%Y-%m-%d}", "to": f"{T0:%Y-%m-%d}"}
    query = parse_report(TENANT, day, T0)
    from_sqlite = await run_report(site / "calls.sqlite3", query, journals)
    from_postgres = await run_report(site / "no-such.sqlite3", query, journals, database_url=copied)
    assert json.loads(from_postgres) == json.loads(from_sqlite) and json.loads(from_sqlite)["rows"]
