"""`ivr serve --database-url`: the call records in PostgreSQL, end to end.

A sipp call to the brokerage's 95500 on a server whose records live in PostgreSQL: the
call's record (stamped with the instance) and its events are in the database, and the
server's /calls API reads them back from there; the messages outbox is in the database
too. A URL that is not PostgreSQL's, or a server that cannot be reached, stops the start
with one line and no stack trace.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import trio
from hosting_support import IVR, ROOT, Server, free_tcp_port, open_rtp_peer, start_caller

from ivr.adapters.hosting.config import HostingConfig
from ivr.adapters.hosting.stores import open_callback_journal
from ivr.runtime.ports import KeptPlace


async def test_a_call_on_a_server_with_a_database_url_is_recorded_in_postgresql(
    tmp_path: Path, tts_cache: Path, postgres_url: str
) -> None:
    first = Server.start(
        tmp_path / "a", "--database-url", postgres_url, "--instance-id", "pg-a", tts=tts_cache
    )
    try:
        peer = await open_rtp_peer()
        caller = "13900000042"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer.receive_forever)
            keys = {"caller": caller, "rtp_port": str(peer.port), "hold": "2000"}
            sipp = start_caller(nursery, first, "uac_call.xml", tmp_path, keys=keys)
            await sipp.wait_ok()
            nursery.cancel_scope.cancel()
        call = await first.recent_call(caller)
    finally:
        assert first.stop() == 0, first.output()
    with psycopg.connect(postgres_url) as conn:
        [row] = conn.execute(
            "SELECT flow, dialed, how, instance, ended_at IS NOT NULL FROM calls WHERE call_id = %s",
            (call["id"],),
        ).fetchall()
        events = conn.execute("SELECT kind FROM events WHERE call_id = %s ORDER BY seq", (call["id"],))
        kinds = [kind for (kind,) in events]
    assert row == ("main", "95500", "caller_hangup", "pg-a", True)
    assert "prompt" in kinds
    assert not (tmp_path / "a" / "calls.sqlite3").exists()  # nothing went to SQLite
    # Another instance on the same database serves the call's trace from there.
    second = Server.start(
        tmp_path / "b", "--database-url", postgres_url, "--instance-id", "pg-b", tts=tts_cache
    )
    try:
        trace = await second.get(f"/calls/{call['id']}/trace")
        outbox = await second.get("/messages")  # the tenant's outbox, on the database too
    finally:
        assert second.stop() == 0, second.output()
    assert [e["kind"] for e in trace["events"]] == kinds
    assert outbox["messages"] == [] and outbox["counts"] == {}
    with psycopg.connect(postgres_url) as conn:
        schemas = conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox'"
        ).fetchall()
    assert len(schemas) == 1 and schemas[0][0].startswith("tenant_")
    assert (
        not (tmp_path / "a" / "outbox.sqlite3").exists() and not (tmp_path / "b" / "outbox.sqlite3").exists()
    )


def serve(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(IVR), "serve", "--flows", str(ROOT / "flows"), "--data-dir", str(tmp_path)]
    cmd += ["--sip-port", "0", "--http-port", str(free_tcp_port()), "--database-url", url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)


def test_a_url_that_is_not_postgresql_is_refused_in_one_line(tmp_path: Path) -> None:
    done = serve(tmp_path, "mysql://ivr:hunter2@127.0.0.1/ivr")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "ivr serve: the database URL must start with postgresql:// (postgresql://user@host:port/name)"
    ]
    assert "hunter2" not in done.stderr


def test_an_unreachable_database_stops_the_start_in_one_line(tmp_path: Path) -> None:
    port = free_tcp_port()  # nothing listens there
    done = serve(tmp_path, f"postgresql://ivr:hunter2@127.0.0.1:{port}/ivr")
    assert done.returncode == 1, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("ivr serve:")]
    assert line.startswith(f"ivr serve: PostgreSQL at ivr@127.0.0.1:{port}/ivr cannot be used:")
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr


async def test_with_a_database_url_a_tenants_queue_callbacks_are_kept_in_the_database(
    tmp_path: Path, postgres_url: str
) -> None:
    file = tmp_path / "agent-journal.sqlite3"
    config = HostingConfig(data_dir=tmp_path, database_url=postgres_url, instance_id="pg-a")
    place = KeptPlace("call-1", "experts", ["research"], 5, "13900000042", datetime(2026, 12, 3, tzinfo=UTC))
    async with open_callback_journal(config, "bank", file) as kept:
        assert not isinstance(kept, Path)
        await kept.keep(place)
    async with open_callback_journal(replace(config, instance_id="pg-b"), "bank", file) as peer:
        assert not isinstance(peer, Path) and await peer.pending() == []  # pg-a calls its caller back
    async with open_callback_journal(config, "bank", file) as kept:
        assert not isinstance(kept, Path) and [p.call_id for p in await kept.pending()] == ["call-1"]
    async with open_callback_journal(HostingConfig(data_dir=tmp_path), "bank", file) as kept:
        assert kept == file  # without a URL: the agents' journal file, as before
    assert not file.exists()


async def test_a_server_with_a_database_url_takes_over_a_silent_instances_campaign_runs(
    tmp_path: Path, tts_cache: Path, postgres_url: str
) -> None:
    """A run owned by an instance whose heartbeat stopped an hour ago becomes the live
    server's (docs/cluster.md, "A silent instance's work continues elsewhere"), and the message
    it was sending is queued again."""
    server = Server.start(
        tmp_path / "b", "--database-url", postgres_url, "--instance-id", "pg-b", tts=tts_cache
    )
    try:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            with trio.fail_after(30):
                while not (schema := _heartbeat_schema(conn, "pg-b")):  # noqa: ASYNC110 (another process)
                    await trio.sleep(0.1)
            conn.execute(
                f"INSERT INTO {schema}.campaign_runs"
                " VALUES ('june', 'fund_news', 'paused', now(), now(), 0, 'ghost')"
            )
            conn.execute(  # a message the ghost was sending when it died (nothing left it)
                f"INSERT INTO {schema}.outbox (delivery_id, channel, kind, recipient, created_at, status,"
                " attempts, max_attempts, instance) VALUES ('ghost-1', 'nowhere', 'sms', '13900000042',"
                " now(), 'sending', 1, 3, 'ghost')"
            )
            conn.execute(f"INSERT INTO {schema}.instance_beats VALUES ('ghost', now() - interval '1 hour')")
            with trio.fail_after(30):
                while _owner(conn, schema, "june") != "pg-b":  # noqa: ASYNC110 (another process)
                    await trio.sleep(0.1)
            [message] = conn.execute(
                f"SELECT status FROM {schema}.outbox WHERE delivery_id = 'ghost-1'"
            ).fetchall()
            runs = await server.get("/campaigns")
    finally:
        assert server.stop() == 0, server.output()
    assert "june" in str(runs)  # the live server drives (and shows) the adopted run
    assert message == ("queued",)  # in the same hand-over: to be sent again (its channel has no gateway here)


def _heartbeat_schema(conn: psycopg.Connection[tuple[object, ...]], instance: str) -> str | None:
    """The tenant schema where `instance` beats, once its campaign runner is up."""
    for (schema,) in conn.execute(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'campaign_runs'"
    ).fetchall():
        if conn.execute(f"SELECT 1 FROM {schema}.instance_beats WHERE instance = %s", (instance,)).fetchone():
            return str(schema)
    return None


def _owner(conn: psycopg.Connection[tuple[object, ...]], schema: str, run_id: str) -> object:
    row = conn.execute(f"SELECT instance FROM {schema}.campaign_runs WHERE run_id = %s", (run_id,)).fetchone()
    return row[0] if row else None
