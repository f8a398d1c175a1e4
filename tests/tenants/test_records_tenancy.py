"""Call records of hosted calls: each names its tenant and the flows version it ran; agents'
logged-in time is kept for seat-hours; a database from before tenants upgrades in place."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ivr.adapters.storage import open_sqlite_call_records
from ivr.adapters.storage.codec import encode_time
from ivr.adapters.storage.records import COMPONENT, MIGRATIONS
from ivr.adapters.storage.schema import connect, migrate

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_a_call_record_names_its_tenant_and_version_and_reads_filter_by_tenant(tmp_path: Path) -> None:
    async with open_sqlite_call_records(tmp_path / "calls.sqlite3") as store:
        await store.call_started(
            "a1", flow="main", caller="1", dialed="100", at=T0, tenant="alpha", version="v2"
        )
        await store.call_started(
            "b1", flow="main", caller="2", dialed="200", at=T0, tenant="beta", version="v1"
        )
        record = await store.get_call("a1")
        assert record is not None and (record.tenant, record.version) == ("alpha", "v2")
        assert [c.call_id for c in await store.list_calls(tenant="beta")] == ["b1"]
        assert {c.call_id for c in await store.list_calls()} == {"a1", "b1"}


async def test_a_database_from_before_tenants_upgrades_and_keeps_its_calls(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite3"
    conn = connect(path)
    migrate(conn, COMPONENT, MIGRATIONS[:1])
    conn.execute(
        "INSERT INTO calls (call_id, flow, caller, dialed, started_at, ended_at, how)"
        " VALUES ('old', 'main', '1', '95500', '2026-01-01T00:00:00+00:00',"
        " '2026-01-01T00:01:00+00:00', 'completed')"
    )
    conn.close()
    async with open_sqlite_call_records(path) as store:
        old = await store.get_call("old")
        assert old is not None and (old.tenant, old.version, old.how) == ("", "", "completed")


async def test_agent_sessions_close_at_logout_or_at_their_last_heartbeat_after_a_crash(
    tmp_path: Path,
) -> None:
    path = tmp_path / "calls.sqlite3"
    async with open_sqlite_call_records(path) as store:
        done = await store.agent_logged_in("alpha", "8001", T0)
        await store.agent_logged_out(done, T0 + timedelta(hours=2))
        left = await store.agent_logged_in("beta", "9001", T0)
        await store.agents_seen([left], T0 + timedelta(minutes=30))
    # the store closed without a logout for 9001 (as after kill -9): the next open ends it
    async with open_sqlite_call_records(path):
        pass
    rows = sqlite3.connect(path).execute(
        "SELECT tenant, agent, login_at, logout_at FROM agent_sessions ORDER BY 1"
    )
    assert [(t, a, lo) for t, a, _, lo in rows] == [
        ("alpha", "8001", encode_time(T0 + timedelta(hours=2))),
        ("beta", "9001", encode_time(T0 + timedelta(minutes=30))),
    ]
