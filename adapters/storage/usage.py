"""Reading what tenants used, for the metering core (`ivr.runtime.usage`).

Place: beside `reads.py`; plain synchronous queries over one connection, used by the HTTP
API (in a worker thread) and by `ivr report usage` (on the database file, read-only, while
the server may be running: SQLite's WAL lets it read beside the writer).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from decimal import Decimal

from ivr.adapters.storage.codec import decode_time, encode_time
from ivr.runtime.usage import CallUsage, RecordingUsage, SessionUsage

_MARGIN = timedelta(days=2)  # around the range: days of the report's zone are not UTC days


def usage_inputs(
    conn: sqlite3.Connection, since: datetime, until: datetime, tenant: str | None = None
) -> tuple[list[CallUsage], list[SessionUsage], list[RecordingUsage]]:
    """Calls, agent sessions and recordings around [since, until) (the core picks the days)."""
    low, high = encode_time(since - _MARGIN), encode_time(until + _MARGIN)
    only = " AND c.tenant = ?" if tenant is not None else ""
    extra: tuple[str, ...] = (tenant,) if tenant is not None else ()
    calls: dict[str, tuple[str, datetime, datetime | None]] = {}
    for call_id, name, started, ended in conn.execute(
        f"SELECT c.call_id, c.tenant, c.started_at, c.ended_at FROM calls c"
        f" WHERE c.started_at >= ? AND c.started_at < ?{only}",
        (low, high, *extra),
    ):
        calls[call_id] = (name, decode_time(started), decode_time(ended) if ended else None)
    talk: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for call_id, kind, at in conn.execute(
        "SELECT e.call_id, e.kind, e.at FROM events e JOIN calls c ON c.call_id = e.call_id"
        " WHERE e.kind IN ('agent_connected', 'agent_call_ended')"
        f" AND c.started_at >= ? AND c.started_at < ?{only}"
        " ORDER BY e.seq",
        (low, high, *extra),
    ):
        spans = talk.setdefault(call_id, [])
        if kind == "agent_connected":
            spans.append((decode_time(at), None))
        elif spans and spans[-1][1] is None:
            spans[-1] = (spans[-1][0], decode_time(at))
    call_rows = [
        CallUsage(name, started, ended, tuple(talk.get(call_id, ())))
        for call_id, (name, started, ended) in calls.items()
    ]
    only_s = " AND tenant = ?" if tenant is not None else ""
    sessions = [
        SessionUsage(name, agent, decode_time(login), decode_time(logout) if logout else None)
        for name, agent, login, logout in conn.execute(
            "SELECT tenant, agent, login_at, logout_at FROM agent_sessions"
            f" WHERE login_at < ? AND (logout_at IS NULL OR logout_at >= ?){only_s}",
            (high, low, *extra),
        )
    ]
    recordings = [
        RecordingUsage(name, decode_time(stored), Decimal(duration))
        for name, stored, duration in conn.execute(
            "SELECT c.tenant, r.stored_at, r.duration FROM recordings r JOIN calls c ON c.call_id = r.call_id"
            f" WHERE r.stored_at >= ? AND r.stored_at < ?{only}",
            (low, high, *extra),
        )
    ]
    return call_rows, sessions, recordings


def open_read_only(path: str) -> sqlite3.Connection:
    """The records database, read-only (a report never writes)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
