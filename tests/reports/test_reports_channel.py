"""`ivr report --by channel`: calls counted by how the customer came (phone, outbound,
chat, sms), from call records written by the real store; a store from before channels
reads its calls as phone calls, both through the store and through the report."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.adapters.storage import open_sqlite_call_records
from ivr.adapters.storage.records import MIGRATIONS
from ivr.adapters.storage.schema import connect, migrate
from ivr.cli import main
from ivr.runtime.ports import CallChannel, CallEnding

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
CALLS: list[tuple[str, CallChannel, CallEnding]] = [
    ("p1", "phone", "completed"),  # contained
    ("p2", "phone", "caller_hangup"),  # hung up in the IVR
    ("p3", "phone", "completed"),  # contained
    ("s1", "sms", "completed"),
    ("s2", "sms", "failed"),
    ("o1", "outbound", "completed"),
    ("c1", "chat", "caller_hangup"),
]


async def write(db: Path) -> None:
    async with open_sqlite_call_records(db) as records:
        for n, (call_id, channel, how) in enumerate(CALLS):
            at = T0 + timedelta(minutes=n)
            await records.call_started(
                call_id, flow="main", caller="139", dialed="95500", at=at, channel=channel
            )
            await records.call_ended(call_id, how=how, at=at + timedelta(seconds=30))


def report(db: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    argv = ["report", "--db", str(db), "--from", "2026-12-01", "--to", "2026-12-01"]
    code = main([*argv, "--by", "channel", "--interval", "day", "--output", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return {row["channel"]: row for row in json.loads(out)["rows"]}


async def test_calls_are_counted_by_channel_as_worked_out_by_hand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "calls.sqlite3"
    await write(db)
    rows = report(db, capsys)
    assert set(rows) == {"phone", "sms", "outbound", "chat"}
    figures = {k: (r["calls"], r["contained"], r["containment_pct"], r["hangups_in_ivr"], r["failed"])
               for k, r in rows.items()}  # fmt: skip
    assert figures == {
        "phone": (3, 2, 66.7, 1, 0),
        "sms": (2, 1, 50.0, 0, 1),
        "outbound": (1, 1, 100.0, 0, 0),
        "chat": (1, 0, 0.0, 1, 0),
    }
    async with open_sqlite_call_records(db) as records:
        found = await records.get_call("s1")
    assert found is not None and found.channel == "sms"


async def test_calls_kept_before_channels_read_as_phone_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "calls.sqlite3"
    conn = connect(db)
    migrate(conn, "call_records", MIGRATIONS[:3])  # the schema before channels
    ended = T0 + timedelta(seconds=9)
    conn.execute(
        "INSERT INTO calls (call_id, flow, caller, dialed, started_at, ended_at, how)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("old", "main", "139", "95500", T0.isoformat(), ended.isoformat(), "completed"),
    )
    conn.close()
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert "channel" not in {row[1] for row in ro.execute("PRAGMA table_info(calls)")}
    ro.close()
    assert report(db, capsys)["phone"]["calls"] == 1  # read-only, unmigrated: still phone
    async with open_sqlite_call_records(db) as records:  # migrated on opening
        old = await records.get_call("old")
    assert old is not None and old.channel == "phone"
