"""Finding a tenant's recordings: by caller, account, agent, order number and time range.

Place: under the supervisor pages (`ivr.adapters.supervision.app`). Reads the call records
database read-only (beside the running server, SQLite's WAL), always through a bounded time
range on `calls (tenant, started_at)` and each call's recordings by `recordings_call`, so a
search never reads the whole table. A phone order leads to its recording: the agent
conversation's recording lists the orders placed in it (`orders` in its metadata,
`ivr.adapters.cti.ordering`); an account is matched on the recording's metadata (a `record`
node's) or on the data the caller brought to the queue.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ivr.adapters.errors import AdapterError
from ivr.adapters.storage.codec import decode_detail, decode_time, encode_time

MAX_DAYS = 366
DEFAULT_DAYS = 31
MAX_ROWS = 200
FIELDS = ("caller", "account", "agent", "order")


class SearchError(AdapterError):
    """A search that was not understood (a bad date, a range too long); nothing was read."""


@dataclass(frozen=True, slots=True)
class RecordingSearch:
    """What a supervisor looks for; empty fields match everything. [start, end), UTC."""

    tenant: str
    start: datetime
    end: datetime
    caller: str = ""
    account: str = ""
    agent: str = ""
    order: str = ""


@dataclass(frozen=True, slots=True)
class Found:
    recording_id: str
    call_id: str
    started_at: datetime
    caller: str
    flow: str
    seconds: str
    kind: str
    agent: str
    orders: tuple[str, ...]
    metadata: Mapping[str, object]

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.recording_id,
            "call_id": self.call_id,
            "started": self.started_at.isoformat(),
            "caller": self.caller,
            "flow": self.flow,
            "seconds": self.seconds,
            "kind": self.kind,
            "agent": self.agent,
            "orders": list(self.orders),
            "account": str(self.metadata.get("account") or ""),
            "topic": str(self.metadata.get("topic") or ""),
        }


def parse_search(tenant: str, params: Mapping[str, str], now: datetime) -> RecordingSearch:
    """A search from query parameters (`from`, `to` as days or ISO times, UTC by default;
    `caller`, `account`, `agent`, `order`); `SearchError` says what is wrong."""
    end = _moment(params.get("to"), end=True) if params.get("to") else now
    start = (
        _moment(params.get("from"), end=False) if params.get("from") else end - timedelta(days=DEFAULT_DAYS)
    )
    if end <= start:
        raise SearchError(f"`to` ({end:%Y-%m-%d %H:%M}) must be after `from` ({start:%Y-%m-%d %H:%M})")
    if end - start > timedelta(days=MAX_DAYS):
        raise SearchError(f"{(end - start).days} days is too long a search; at most {MAX_DAYS} days")
    values = {name: params.get(name, "").strip() for name in FIELDS}
    for name, value in values.items():
        if len(value) > 64:
            raise SearchError(f"`{name}` is at most 64 characters")
    return RecordingSearch(tenant, start, end, **values)


def _moment(text: str | None, *, end: bool) -> datetime:
    assert text is not None
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SearchError(
            f"cannot read {text!r} as a day or a time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def search(database: Path, query: RecordingSearch) -> list[Found]:
    """The newest recordings that match (at most `MAX_ROWS`)."""
    where = ["c.tenant = ?", "c.started_at >= ?", "c.started_at < ?"]
    params: list[object] = [query.tenant, encode_time(query.start), encode_time(query.end)]
    if query.caller:
        where.append("instr(c.caller, ?) > 0")
        params.append(query.caller)
    if query.agent:
        where.append(
            "(json_extract(r.metadata, '$.agent') = ?"
            " OR EXISTS (SELECT 1 FROM json_each(r.metadata, '$.agents') WHERE value = ?))"
        )
        params += [query.agent, query.agent]
    if query.order:
        where.append("EXISTS (SELECT 1 FROM json_each(r.metadata, '$.orders') WHERE value = ?)")
        params.append(query.order)
    if query.account:
        where.append(
            "(json_extract(r.metadata, '$.account') = ? OR EXISTS (SELECT 1 FROM events e"
            " WHERE e.call_id = c.call_id AND e.kind = 'queue'"
            " AND json_extract(e.detail, '$.data.account') = ?))"
        )
        params += [query.account, query.account]
    sql = (
        "SELECT r.recording_id, c.call_id, c.started_at, c.caller, c.flow, r.duration, r.metadata"
        " FROM calls c JOIN recordings r ON r.call_id = c.call_id"
        f" WHERE {' AND '.join(where)} ORDER BY c.started_at DESC, r.rowid DESC LIMIT ?"
    )
    with _reader(database) as conn:
        rows = conn.execute(sql, (*params, MAX_ROWS)).fetchall()
    return [_found(row) for row in rows]


def find(database: Path, tenant: str, recording_id: str) -> tuple[Found, str | None] | None:
    """One recording of `tenant` and its audio file's path (None: not this tenant's)."""
    with _reader(database) as conn:
        row = conn.execute(
            "SELECT r.recording_id, c.call_id, c.started_at, c.caller, c.flow, r.duration, r.metadata,"
            " r.path FROM recordings r JOIN calls c ON c.call_id = r.call_id"
            " WHERE r.recording_id = ? AND c.tenant = ?",
            (recording_id, tenant),
        ).fetchone()
    return None if row is None else (_found(row[:7]), row[7])


def _found(row: tuple[object, ...]) -> Found:
    recording_id, call_id, started, caller, flow, duration, metadata = row
    return found_row(
        recording_id, call_id, decode_time(str(started)), caller, flow, duration, decode_detail(str(metadata))
    )


def found_row(
    recording_id: object,
    call_id: object,
    started: datetime,
    caller: object,
    flow: object,
    duration: object,
    meta: Mapping[str, object],
) -> Found:
    """One hit, from a row of either store (the PostgreSQL search: `ivr.adapters.postgres.recordings`)."""
    orders = meta.get("orders")
    return Found(
        str(recording_id),
        str(call_id),
        started,
        str(caller),
        str(flow),
        str(duration),
        str(meta.get("kind") or "message"),
        str(meta.get("agent") or ""),
        tuple(str(o) for o in orders) if isinstance(orders, list) else (),
        meta,
    )


class _reader:
    """A read-only connection, closed on exit."""

    def __init__(self, database: Path) -> None:
        self.database = database

    def __enter__(self) -> sqlite3.Connection:
        if not self.database.is_file():
            raise SearchError(f"no call records at {self.database}")
        self.conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10.0)
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
