"""SqliteCallRecords beyond the contract: durability, crash recovery, schema, group commit."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from ivr.adapters.storage import RecordsError, SchemaError, open_sqlite_call_records
from ivr.runtime.ports import CallEvent, Recording

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


async def test_records_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "records.db"
    async with open_sqlite_call_records(path) as records:
        await records.call_started("c1", flow="main", caller="1", dialed="95500", at=T0)
        await records.call_event(CallEvent("c1", "operation", T0, "buy", {"amount": Decimal("10.01")}))
        await records.call_ended("c1", how="completed", at=T0 + timedelta(seconds=3))
    async with open_sqlite_call_records(path) as records:
        call = await records.get_call("c1")
        assert call is not None and call.how == "completed" and call.ended_at == T0 + timedelta(seconds=3)
        assert (await records.events("c1"))[0].detail == {"amount": Decimal("10.01")}
        assert records.recovered_at_open == []


async def test_a_call_left_open_is_closed_as_interrupted_at_its_last_event(tmp_path: Path) -> None:
    path = tmp_path / "records.db"
    async with open_sqlite_call_records(path) as records:
        await records.call_started("c1", flow="main", caller="1", dialed="95500", at=T0)
        await records.call_event(CallEvent("c1", "input", T0 + timedelta(seconds=9), "menu"))
    async with open_sqlite_call_records(path) as records:
        assert records.recovered_at_open == ["c1"]
        call = await records.get_call("c1")
        assert call is not None and call.how == "interrupted"
        assert call.ended_at == T0 + timedelta(seconds=9)
        assert [e.kind for e in await records.events("c1")] == ["input", "call_interrupted"]


CRASHING_WRITER = textwrap.dedent(
    """
    import sys, trio
    from datetime import UTC, datetime
    from ivr.adapters.storage import open_sqlite_call_records
    from ivr.runtime.ports import CallEvent, Recording

    async def main():
        async with open_sqlite_call_records(sys.argv[1]) as records:
            now = datetime.now(UTC)
            await records.call_started("live", flow="main", caller="1", dialed="2", at=now)
            await records.call_event(CallEvent("live", "node_entered", now, "menu"))
            print("written", flush=True)
            await trio.sleep_forever()

    trio.run(main)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
async def test_a_killed_server_leaves_a_call_that_reopening_marks_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "records.db"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", CRASHING_WRITER, str(path)], stdout=-1, env=env
    )
    assert process.stdout is not None
    with trio.fail_after(20):
        assert b"written" in await process.stdout.receive_some()
    process.send_signal(signal.SIGKILL)  # no clean shutdown: the writer dies mid-call
    await process.wait()
    async with open_sqlite_call_records(path) as records:
        assert records.recovered_at_open == ["live"]
        call = await records.get_call("live")
        assert call is not None and call.how == "interrupted"
        assert [e.node for e in await records.events("live")] == ["menu", None]


async def test_recover_interrupted_can_also_be_called_explicitly(tmp_path: Path) -> None:
    async with open_sqlite_call_records(tmp_path / "r.db") as records:
        await records.call_started("c1", flow="main", caller="1", dialed="2", at=T0)
        assert await records.recover_interrupted() == ["c1"]
        assert await records.recover_interrupted() == []


async def test_a_second_end_does_not_overwrite_the_first(tmp_path: Path) -> None:
    async with open_sqlite_call_records(tmp_path / "r.db") as records:
        await records.call_started("c1", flow="main", caller="1", dialed="2", at=T0)
        await records.call_ended("c1", how="transferred", at=T0)
        await records.call_ended("c1", how="hangup", at=T0 + timedelta(seconds=1))
        call = await records.get_call("c1")
        assert call is not None and call.how == "transferred"


async def test_a_bad_write_fails_alone_while_its_batch_commits(tmp_path: Path) -> None:
    async with open_sqlite_call_records(tmp_path / "r.db") as records:
        await records.call_started("dup", flow="main", caller="1", dialed="2", at=T0)
        outcomes: dict[str, str] = {}

        async def start(call_id: str) -> None:
            try:
                await records.call_started(call_id, flow="main", caller="1", dialed="2", at=T0)
                outcomes[call_id] = "ok"
            except RecordsError as exc:
                outcomes[call_id] = str(exc)

        async with trio.open_nursery() as nursery:
            for call_id in ("a", "dup", "b"):
                nursery.start_soon(start, call_id)
        assert outcomes["a"] == outcomes["b"] == "ok"
        assert "could not record call 'dup' started" in outcomes["dup"]
        with pytest.raises(RecordsError, match="no call 'ghost' was started"):
            await records.call_ended("ghost", how="hangup", at=T0)


async def test_concurrent_writes_share_commits(tmp_path: Path) -> None:
    async with open_sqlite_call_records(tmp_path / "r.db") as records:
        await records.call_started("c1", flow="main", caller="1", dialed="2", at=T0)
        before = records.writer.batches
        async with trio.open_nursery() as nursery:
            for i in range(200):
                nursery.start_soon(records.call_event, CallEvent("c1", "log", T0, None, {"i": i}))
        assert records.writer.batches - before < 200
        assert len(await records.events("c1")) == 200


async def test_list_calls_filters_newest_first(tmp_path: Path) -> None:
    async with open_sqlite_call_records(tmp_path / "r.db") as records:
        for i, flow in enumerate(["main", "orders", "main"]):
            await records.call_started(f"c{i}", flow=flow, caller="1", dialed="2", at=T0 + timedelta(hours=i))
        await records.call_ended("c0", how="completed", at=T0)
        assert [c.call_id for c in await records.list_calls()] == ["c2", "c1", "c0"]
        assert [c.call_id for c in await records.list_calls(flow="main")] == ["c2", "c0"]
        assert [c.call_id for c in await records.list_calls(how="completed")] == ["c0"]
        window = await records.list_calls(since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=2))
        assert [c.call_id for c in window] == ["c1"]
        assert [c.call_id for c in await records.list_calls(limit=1)] == ["c2"]


async def test_an_order_number_finds_the_recordings_of_the_conversations_that_placed_it(
    tmp_path: Path,
) -> None:
    async with open_sqlite_call_records(tmp_path / "r.db") as records:
        for call_id in ("c1", "c2"):
            await records.call_started(call_id, flow="main", caller="1", dialed="2", at=T0)
        talk = Recording("c1-agent-8001", Decimal("42.5"), "/rec/c1.wav", "hangup")
        await records.store_recording("c1", talk, {"kind": "agent", "orders": ["O-7", "O-8"]})
        other = Recording("c2-agent-8002", Decimal("3"), "/rec/c2.wav", "hangup")
        await records.store_recording("c2", other, {"kind": "agent", "orders": ["O-77"]})
        await records.store_recording(
            "c2", Recording("c2-msg", Decimal("1"), None, "silence"), {"kind": "msg"}
        )
        [found] = await records.order_recordings("O-8")
        assert (found.call_id, found.recording) == ("c1", talk)
        assert [r.call_id for r in await records.order_recordings("O-77")] == ["c2"]
        assert await records.order_recordings("O-") == []


async def test_schema_version_is_recorded_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    async with open_sqlite_call_records(path):
        pass
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT component, version FROM schema_migrations").fetchall() == [
        ("call_records", 1),
        ("call_records", 2),
        ("call_records", 3),
        ("call_records", 4),
        ("call_records", 5),
    ]
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.execute("INSERT INTO schema_migrations VALUES ('call_records', 99, 'later')")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match="call_records schema version 99 is newer"):
        async with open_sqlite_call_records(path):
            pass
