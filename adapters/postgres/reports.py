"""Reading a report's inputs from the call records and campaigns in PostgreSQL.

Place: what `ivr.adapters.reports.sqlite` is for `DATA/calls.sqlite3`, for a shared
database (`ivr report --database-url`, docs/cluster.md): the same rows, the same bounds
(`check_query`, at most `MAX_CALLS` calls), read in one read-only transaction, so a report
sees one consistent moment of every instance's calls and never writes. The agents' state
lines come from every tenant's agents' journal in its schema (`tenant_<name>`, written by
every instance: `ivr.adapters.postgres.agent_journal`), or from a journal file given for a
tenant (`--journal`, which then stands for that tenant's lines). By campaign, the attempts
and opt-outs of every tenant's campaign schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from ivr.adapters.postgres.database import (
    CONNECT_TIMEOUT,
    Connection,
    DatabaseUrlError,
    check_url,
    describe,
    first_line,
    scrub,
)
from ivr.adapters.postgres.records import USAGE_MARGIN, usage_rows
from ivr.adapters.postgres.values import utc
from ivr.adapters.reports.rows import (
    AttemptRow,
    CallRow,
    EventRow,
    Inputs,
    OptOutRow,
    ReportQuery,
    SessionRow,
    StateRow,
)
from ivr.adapters.reports.sqlite import (
    CALL_MARGIN,
    DETAIL_FIELDS,
    EVENT_KINDS,
    MAX_CALLS,
    STATE_MARGIN,
    ReportQueryError,
    check_query,
    read_states,
)
from ivr.adapters.storage.codec import decode_detail
from ivr.runtime.usage import CallUsage, RecordingUsage, SessionUsage

TENANT_SCHEMA = "tenant_"


def read_postgres_inputs(url: str, query: ReportQuery, journals: Sequence[tuple[str, Path]] = ()) -> Inputs:
    """The calls, events and agent sessions around the query's range (by campaign: the
    attempts and opt-outs instead), and the agents' state lines: of each `(tenant, journal
    file)` given, and of every other tenant's journal in the database."""
    check_query(query)
    _check(url)
    with _reading(url), read_only_connection(url) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one moment of all
        if query.by == "campaign":
            return _campaign_inputs(conn, query)
        calls = _calls(conn, query)
        events = _events(conn, query)
        sessions = _sessions(conn, query) if query.by == "agent" else []
        given = {tenant for tenant, _ in journals}
        states = _states(conn, query, given) if query.by in ("agent", "queue") else []
    return Inputs(calls, events, sessions, read_states(query, journals) + states)


def read_postgres_usage(
    url: str, since: datetime, until: datetime, tenant: str | None = None
) -> tuple[list[CallUsage], list[SessionUsage], list[RecordingUsage]]:
    """What `ivr report usage` adds up, around [since, until), read-only."""
    _check(url)
    with _reading(url), read_only_connection(url) as conn, conn.transaction():
        return usage_rows(conn, utc(since) - USAGE_MARGIN, utc(until) + USAGE_MARGIN, tenant)


def _check(url: str) -> None:
    try:
        check_url(url)
    except DatabaseUrlError as exc:
        raise ReportQueryError(str(exc)) from None


@contextmanager
def _reading(url: str) -> Iterator[None]:
    """PostgreSQL's errors as one line each (`ReportQueryError`), never with the password."""
    where = describe(url)
    try:
        yield
    except psycopg.errors.UndefinedTable:
        raise ReportQueryError(f"no call records in PostgreSQL at {where} (no server wrote there)") from None
    except psycopg.Error as exc:
        reason = first_line(scrub(str(exc), url))
        raise ReportQueryError(f"cannot read the call records in PostgreSQL at {where}: {reason}") from None


def read_only_connection(url: str) -> Connection:
    """A connection whose transactions can only read, times in UTC."""
    conn = psycopg.connect(
        url, connect_timeout=CONNECT_TIMEOUT, application_name="ivr-report", autocommit=True
    )
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute("SET default_transaction_read_only = on")
    return conn


def _range(query: ReportQuery) -> tuple[object, object]:
    return query.start - CALL_MARGIN, query.end


def _tenant(query: ReportQuery, column: str) -> tuple[str, tuple[str, ...]]:
    return (f" AND {column} = %s", (query.tenant,)) if query.tenant is not None else ("", ())


def _calls(conn: Connection, query: ReportQuery) -> list[CallRow]:
    only, extra = _tenant(query, "tenant")
    rows = conn.execute(
        "SELECT call_id, tenant, flow, started_at, ended_at, how, channel FROM calls"
        f" WHERE started_at >= %s AND started_at < %s{only} ORDER BY seq LIMIT %s",
        (*_range(query), *extra, MAX_CALLS + 1),
    ).fetchall()
    if len(rows) > MAX_CALLS:
        raise ReportQueryError(f"more than {MAX_CALLS:,} calls in this range; ask for a shorter one")
    return [CallRow(*row) for row in rows]


def _events(conn: Connection, query: ReportQuery) -> list[EventRow]:
    only, extra = _tenant(query, "c.tenant")
    wanted = list(EVENT_KINDS[query.by])
    rows = conn.execute(
        "SELECT e.call_id, e.seq, e.kind, e.at, e.node, e.detail FROM calls c"
        " JOIN events e ON e.call_id = c.call_id"
        f" WHERE c.started_at >= %s AND c.started_at < %s{only} AND e.kind = ANY(%s) ORDER BY e.seq",
        (*_range(query), *extra, wanted),
    )
    return [
        EventRow(call_id, int(seq), kind, at, node, _picked(detail))
        for call_id, seq, kind, at, node, detail in rows
    ]


def _picked(text: str) -> dict[str, object]:
    """The detail fields the facts read (as the SQLite reader picks them)."""
    detail = decode_detail(text)
    return {name: detail[name] for name in DETAIL_FIELDS if detail.get(name) is not None}


def _sessions(conn: Connection, query: ReportQuery) -> list[SessionRow]:
    only, extra = _tenant(query, "tenant")
    rows = conn.execute(
        "SELECT tenant, agent, login_at, coalesce(logout_at, seen_at) FROM agent_sessions"
        f" WHERE login_at >= %s AND login_at < %s{only}",
        (query.start - STATE_MARGIN, query.end, *extra),
    )
    return [SessionRow(*row) for row in rows]


def _states(conn: Connection, query: ReportQuery, given: set[str]) -> list[StateRow]:
    """The `state` lines of each tenant's agents' journal in the database (not of tenants
    whose journal file was given), as `ivr.adapters.reports.sqlite` reads a file's."""
    low, high = query.start - STATE_MARGIN, query.end
    states: list[StateRow] = []
    for schema in _tenant_schemas(conn, "agent_journal"):
        tenant = schema.removeprefix(TENANT_SCHEMA)
        if tenant in given or (query.tenant is not None and tenant != query.tenant):
            continue
        rows = conn.execute(
            sql.SQL(
                "SELECT at, extension, detail FROM {}.agent_journal"
                " WHERE kind = 'state' AND at >= %s AND at < %s ORDER BY id"
            ).format(sql.Identifier(schema)),
            (low, high),
        )
        states += [
            StateRow(tenant, extension, at, str(json.loads(detail).get("state", "")))
            for at, extension, detail in rows
            if extension is not None
        ]
    return states


def _tenant_schemas(conn: Connection, table: str | None = None) -> list[str]:
    """The tenants' schemas (`tenant_<name>`), those holding `table` when given."""
    if table is None:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s) ORDER BY nspname",
            (TENANT_SCHEMA,),
        )
    else:
        rows = conn.execute(
            "SELECT table_schema FROM information_schema.tables"
            " WHERE starts_with(table_schema, %s) AND table_name = %s ORDER BY table_schema",
            (TENANT_SCHEMA, table),
        )
    return [str(name) for (name,) in rows]


def _campaign_inputs(conn: Connection, query: ReportQuery) -> Inputs:
    schemas = _tenant_schemas(conn)
    attempts: list[AttemptRow] = []
    opt_outs: list[OptOutRow] = []
    for schema in schemas:
        tenant = schema.removeprefix(TENANT_SCHEMA)
        if query.tenant is not None and tenant != query.tenant:
            continue
        where = sql.Identifier(schema)
        attempts += [
            AttemptRow(tenant, campaign, at, outcome)
            for campaign, at, outcome in conn.execute(
                sql.SQL(
                    "SELECT r.campaign, a.started_at, a.outcome FROM {}.campaign_attempts a"
                    " JOIN {}.campaign_runs r ON r.run_id = a.run_id"
                    " WHERE a.started_at >= %s AND a.started_at < %s LIMIT %s"
                ).format(where, where),
                (query.start, query.end, MAX_CALLS + 1),
            )
        ]
        opt_outs += [
            OptOutRow(tenant, campaign, at)
            for campaign, at in conn.execute(
                sql.SQL(
                    "SELECT r.campaign, s.at FROM {}.campaign_skips s"
                    " JOIN {}.campaign_runs r ON r.run_id = s.run_id"
                    " WHERE s.at >= %s AND s.at < %s AND s.reason = 'do_not_call' LIMIT %s"
                ).format(where, where),
                (query.start, query.end, MAX_CALLS + 1),
            )
        ]
        if len(attempts) > MAX_CALLS:
            raise ReportQueryError(f"more than {MAX_CALLS:,} attempts in this range; ask for a shorter one")
    return Inputs([], [], attempts=attempts, opt_outs=opt_outs)
