"""Reading a report's inputs from the records database and the agents' journals.

Place: the I/O side of `ivr report` and `ivr draw --stats`; `figures` does the arithmetic.
Every query is a range on an indexed time column (`calls.started_at`, then each call's
events through `events_call`; `agent_sessions.login_at`; `agent_journal.at`), opened
read-only, so a report reads beside a running server (SQLite's WAL) and never scans a whole
table for a bounded range. `check_query` refuses what would stall the machine: a range
longer than the interval allows, an end before the start, a silly threshold.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.adapters.errors import AdapterError
from ivr.adapters.reports.rows import (
    INTERVALS,
    AttemptRow,
    By,
    CallRow,
    EventRow,
    Inputs,
    Interval,
    OptOutRow,
    ReportQuery,
    SessionRow,
    StateRow,
)
from ivr.adapters.storage.codec import decode_time, encode_time

# The longest range each interval may cover: about 3,000 rows per key at most.
MAX_RANGE: dict[Interval, timedelta] = {
    "15m": timedelta(days=31),
    "hour": timedelta(days=92),
    "day": timedelta(days=366),
}
MAX_CALLS = 5_000_000  # calls in one report; more is refused rather than read
CALL_MARGIN = timedelta(hours=4)  # a call started this long before the range may still count in it
STATE_MARGIN = timedelta(days=1)  # how far back the journal is read for the state at the start
ACD_KINDS = (
    "agent_offered", "agent_connected", "agent_left", "agent_call_ended", "agent_hold", "queue", "transfer",
)  # fmt: skip
# The record lines each report needs (a queue contact starts at its node_entered)
EVENT_KINDS: dict[By, tuple[str, ...]] = {
    "tenant": ("node_entered", *ACD_KINDS),
    "flow": ("node_entered", *ACD_KINDS),
    "queue": ("node_entered", *ACD_KINDS),
    "agent": ACD_KINDS,
    "node": ("node_entered", "node_left"),
    "campaign": (),  # from the campaign stores
    "channel": ("node_entered", *ACD_KINDS),
}


class ReportQueryError(AdapterError):
    """A report was asked for something it will not compute (a range too long for the
    interval, an end before the start, an unknown zone) or cannot read (no such database).
    The message says what to change; nothing was read."""


def check_query(query: ReportQuery) -> None:
    """Refuse a query that makes no sense or would read too much; the message says why."""
    if query.start.tzinfo is None or query.end.tzinfo is None:
        raise ReportQueryError("the report's start and end need a time zone")
    if query.end <= query.start:
        raise ReportQueryError(
            f"--to ({query.end:%Y-%m-%d %H:%M}) must be after --from ({query.start:%Y-%m-%d %H:%M})"
        )
    if query.interval not in INTERVALS:
        raise ReportQueryError(f"unknown interval {query.interval!r}; use one of {', '.join(INTERVALS)}")
    longest = MAX_RANGE[query.interval]
    if query.end - query.start > longest:
        raise ReportQueryError(
            f"{(query.end - query.start).days} days of {query.interval} intervals is too long a report;"
            f" at most {longest.days} days with --interval {query.interval} (use a longer interval)"
        )
    try:
        ZoneInfo(query.zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReportQueryError(
            f"unknown time zone {query.zone!r} (use a name such as Asia/Shanghai)"
        ) from exc
    for queue, seconds in {"": query.service_level, **query.service_levels}.items():
        if not 0 < seconds <= 3600:
            where = f" of queue {queue!r}" if queue else ""
            raise ReportQueryError(
                f"the service level threshold{where} must be 1 to 3600 seconds, not {seconds:g}"
            )


def open_database(path: Path) -> sqlite3.Connection:
    """The records database, read-only; a clear error when it is not there."""
    if not path.is_file():
        raise ReportQueryError(f"no call records at {path} (give --db DATA_DIR/calls.sqlite3)")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)


def read_inputs(
    conn: sqlite3.Connection,
    query: ReportQuery,
    journals: Sequence[tuple[str, Path]] = (),
    campaigns: Sequence[tuple[str, Path]] = (),
) -> Inputs:
    """The calls, events and agent sessions around the query's range, and the state lines of
    each `(tenant, journal file)`; by campaign, the attempts and opt-outs of each `(tenant,
    campaign store)` instead."""
    check_query(query)
    if query.by == "campaign":
        return _campaign_inputs(query, campaigns)
    try:
        calls = _calls(conn, query)
        events = _events(conn, query)
        sessions = _sessions(conn, query) if query.by == "agent" else []
    except sqlite3.DatabaseError as exc:
        raise ReportQueryError(f"cannot read the call records: {exc}") from exc
    return Inputs(calls, events, sessions, read_states(query, journals))


def read_states(query: ReportQuery, journals: Sequence[tuple[str, Path]]) -> list[StateRow]:
    """The agents' state lines a report by agent or queue needs, from each `(tenant, journal)`
    (the PostgreSQL reader uses it too: the journals are still files)."""
    states: list[StateRow] = []
    if query.by in ("agent", "queue"):
        for tenant, path in journals:
            if query.tenant is None or tenant == query.tenant:
                states.extend(_states(path, tenant, query))
    return states


def _campaign_inputs(query: ReportQuery, stores: Sequence[tuple[str, Path]]) -> Inputs:
    attempts: list[AttemptRow] = []
    opt_outs: list[OptOutRow] = []
    span = (encode_time(query.start), encode_time(query.end))
    for tenant, path in stores:
        if (query.tenant is not None and tenant != query.tenant) or not path.is_file():
            continue
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)) as conn:
                attempts += [
                    AttemptRow(tenant, campaign, decode_time(at), outcome)
                    for campaign, at, outcome in conn.execute(
                        "SELECT r.campaign, a.started_at, a.outcome FROM campaign_attempts a"
                        " JOIN campaign_runs r ON r.run_id = a.run_id"
                        " WHERE a.started_at >= ? AND a.started_at < ? LIMIT ?",
                        (*span, MAX_CALLS + 1),
                    )
                ]
                opt_outs += [
                    OptOutRow(tenant, campaign, decode_time(at))
                    for campaign, at in conn.execute(
                        "SELECT r.campaign, s.at FROM campaign_skips s"
                        " JOIN campaign_runs r ON r.run_id = s.run_id"
                        " WHERE s.at >= ? AND s.at < ? AND s.reason = 'do_not_call' LIMIT ?",
                        (*span, MAX_CALLS + 1),
                    )
                ]
        except sqlite3.DatabaseError as exc:
            raise ReportQueryError(f"cannot read the campaign store {path}: {exc}") from exc
        if len(attempts) > MAX_CALLS:
            raise ReportQueryError(f"more than {MAX_CALLS:,} attempts in this range; ask for a shorter one")
    return Inputs([], [], attempts=attempts, opt_outs=opt_outs)


def _range(query: ReportQuery) -> tuple[str, str]:
    return encode_time(query.start - CALL_MARGIN), encode_time(query.end)


def _tenant(query: ReportQuery, column: str) -> tuple[str, tuple[str, ...]]:
    return (f" AND {column} = ?", (query.tenant,)) if query.tenant is not None else ("", ())


def _calls(conn: sqlite3.Connection, query: ReportQuery) -> list[CallRow]:
    only, extra = _tenant(query, "tenant")

    def select(channel: str) -> list[tuple[str, str, str, str, str | None, str | None, str]]:
        return conn.execute(
            f"SELECT call_id, tenant, flow, started_at, ended_at, how, {channel} FROM calls"
            f" WHERE started_at >= ? AND started_at < ?{only} LIMIT ?",
            (*_range(query), *extra, MAX_CALLS + 1),
        ).fetchall()

    try:
        rows = select("channel")
    except sqlite3.OperationalError as exc:  # a store from before channels (read-only: not migrated)
        if "channel" not in str(exc):
            raise
        rows = select("'phone'")
    if len(rows) > MAX_CALLS:
        raise ReportQueryError(f"more than {MAX_CALLS:,} calls in this range; ask for a shorter one")
    return [
        CallRow(
            call_id, tenant, flow, decode_time(started), decode_time(ended) if ended else None, how, channel
        )
        for call_id, tenant, flow, started, ended, how, channel in rows
    ]


# The detail fields the facts read, picked out by SQLite (JSON parsed in C, not in Python)
DETAIL_FIELDS = ("flow", "edge", "queue", "agent", "outcome", "kind", "connected", "on")
_FLAGS = ("connected", "on")
_PICK = ", ".join(f"json_extract(e.detail, '$.{name}')" for name in DETAIL_FIELDS)


def _events(conn: sqlite3.Connection, query: ReportQuery) -> list[EventRow]:
    only, extra = _tenant(query, "c.tenant")
    wanted = EVENT_KINDS[query.by]
    kinds = ", ".join("?" * len(wanted))
    rows = conn.execute(
        f"SELECT e.call_id, e.seq, e.kind, e.at, e.node, {_PICK} FROM calls c"
        " JOIN events e ON e.call_id = c.call_id"
        f" WHERE c.started_at >= ? AND c.started_at < ?{only} AND e.kind IN ({kinds})",
        (*_range(query), *extra, *wanted),
    )
    return [
        EventRow(call_id, seq, kind, decode_time(at), node, _detail(picked))
        for call_id, seq, kind, at, node, *picked in rows
    ]


def _detail(values: list[object]) -> dict[str, object]:
    detail = {name: value for name, value in zip(DETAIL_FIELDS, values, strict=True) if value is not None}
    for flag in _FLAGS:  # JSON true/false comes back from SQLite as 1/0
        if flag in detail:
            detail[flag] = bool(detail[flag])
    return detail


def _sessions(conn: sqlite3.Connection, query: ReportQuery) -> list[SessionRow]:
    only, extra = _tenant(query, "tenant")
    rows = conn.execute(
        # a session still open counts to its last heartbeat, never into the future
        "SELECT tenant, agent, login_at, coalesce(logout_at, seen_at) FROM agent_sessions"
        f" WHERE login_at >= ? AND login_at < ?{only}",
        (encode_time(query.start - STATE_MARGIN), encode_time(query.end), *extra),
    )
    return [
        SessionRow(tenant, agent, decode_time(login), decode_time(logout) if logout else None)
        for tenant, agent, login, logout in rows
    ]


def _states(path: Path, tenant: str, query: ReportQuery) -> Iterable[StateRow]:
    """`state` lines of one agents' journal (times as the journal wrote them)."""
    if not path.is_file():
        raise ReportQueryError(f"no agents' journal at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    try:
        low, high = query.start - STATE_MARGIN, query.end
        rows = conn.execute(
            "SELECT at, extension, detail FROM agent_journal"
            " WHERE kind = 'state' AND at >= ? AND at < ? ORDER BY id",
            (_journal_time(low), _journal_time(high + timedelta(seconds=1))),
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise ReportQueryError(f"cannot read the agents' journal {path}: {exc}") from exc
    finally:
        conn.close()
    for at, extension, detail in rows:
        when = datetime.fromisoformat(at)
        if extension is not None and low <= when < high:
            yield StateRow(tenant, extension, when, str(json.loads(detail).get("state", "")))


def _journal_time(at: datetime) -> str:
    """A bound in the journal's own text form (`datetime.isoformat()` of a UTC time)."""
    return at.astimezone(UTC).isoformat()
