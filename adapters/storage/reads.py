"""Reading call records back, for reports, the editor and tests.

Place: beside `records.py` (which writes). Plain synchronous queries over one connection;
`SqliteCallRecords` runs them in a worker thread. Nothing here writes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ivr.adapters.storage.codec import decode_detail, decode_time, encode_time
from ivr.runtime.ports import CHANNELS, CallChannel, CallEvent, Recording


@dataclass(frozen=True)
class CallRecord:
    """One call's header: how it started and, once over, how it ended
    ("completed", "hangup", ..., or "interrupted" when the server stopped mid-call)."""

    call_id: str
    flow: str
    caller: str
    dialed: str
    started_at: datetime
    ended_at: datetime | None = None
    how: str | None = None
    tenant: str = ""
    version: str = ""
    channel: CallChannel = "phone"  # records from before channels were kept read as phone


@dataclass(frozen=True)
class StoredRecording:
    call_id: str
    recording: Recording
    metadata: dict[str, object] = field(default_factory=dict)


_CALL_COLUMNS = "call_id, flow, caller, dialed, started_at, ended_at, how, tenant, version, channel"


def get_call(conn: sqlite3.Connection, call_id: str) -> CallRecord | None:
    row = conn.execute(f"SELECT {_CALL_COLUMNS} FROM calls WHERE call_id = ?", (call_id,)).fetchone()
    return _call(row) if row else None


def list_calls(
    conn: sqlite3.Connection,
    *,
    flow: str | None,
    how: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    tenant: str | None = None,
) -> list[CallRecord]:
    """Newest first; every filter is optional; `until` is exclusive."""
    where, params = ["1 = 1"], list[object]()
    for clause, value in (
        ("tenant = ?", tenant),
        ("flow = ?", flow),
        ("how = ?", how),
        ("started_at >= ?", since and encode_time(since)),
        ("started_at < ?", until and encode_time(until)),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    query = f"SELECT {_CALL_COLUMNS} FROM calls WHERE {' AND '.join(where)} ORDER BY rowid DESC LIMIT ?"
    return [_call(row) for row in conn.execute(query, (*params, limit))]


def events(conn: sqlite3.Connection, call_id: str) -> list[CallEvent]:
    rows = conn.execute(
        "SELECT kind, at, node, detail FROM events WHERE call_id = ? ORDER BY seq", (call_id,)
    )
    return [
        CallEvent(call_id, kind, decode_time(at), node, decode_detail(detail))
        for kind, at, node, detail in rows
    ]


def recordings(conn: sqlite3.Connection, call_id: str) -> list[StoredRecording]:
    rows = conn.execute(
        "SELECT recording_id, duration, path, ended_by, metadata FROM recordings"
        " WHERE call_id = ? ORDER BY rowid",
        (call_id,),
    )
    return [
        StoredRecording(call_id, Recording(rid, Decimal(duration), path, ended_by), decode_detail(metadata))
        for rid, duration, path, ended_by, metadata in rows
    ]


def order_recordings(conn: sqlite3.Connection, order_no: str) -> list[StoredRecording]:
    """The recordings whose metadata lists `order_no` under `orders` (an agent conversation
    in which the order was placed): from an order to what was said."""
    rows = conn.execute(
        "SELECT call_id, recording_id, duration, path, ended_by, metadata FROM recordings"
        " WHERE EXISTS (SELECT 1 FROM json_each(recordings.metadata, '$.orders') WHERE value = ?)"
        " ORDER BY rowid",
        (order_no,),
    )
    return [
        StoredRecording(call_id, Recording(rid, Decimal(duration), path, ended_by), decode_detail(metadata))
        for call_id, rid, duration, path, ended_by, metadata in rows
    ]


def _call(row: tuple[str, str, str, str, str, str | None, str | None, str, str, str]) -> CallRecord:
    call_id, flow, caller, dialed, started, ended, how, tenant, version, channel = row
    return CallRecord(
        call_id,
        flow,
        caller,
        dialed,
        decode_time(started),
        _maybe_time(ended),
        how,
        tenant,
        version,
        as_channel(channel),
    )


def as_channel(value: object) -> CallChannel:
    """A stored channel as its type; anything unknown (or missing) reads as a phone call."""
    return next((c for c in CHANNELS if c == value), "phone")


def _maybe_time(text: str | None) -> datetime | None:
    return decode_time(text) if text else None


def recording(conn: sqlite3.Connection, recording_id: str) -> StoredRecording | None:
    row = conn.execute(
        "SELECT call_id, duration, path, ended_by, metadata FROM recordings WHERE recording_id = ?",
        (recording_id,),
    ).fetchone()
    if row is None:
        return None
    call_id, duration, path, ended_by, metadata = row
    return StoredRecording(
        call_id, Recording(recording_id, Decimal(duration), path, ended_by), decode_detail(metadata)
    )
