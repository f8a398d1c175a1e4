"""Finding a tenant's recordings in PostgreSQL: the supervisor pages' search on a shared
database (`recordings` is the same on the SQLite file).

Place: beside `recordings`, under the supervisor pages; read-only, one transaction. The calls of the
tenant in the time range (and the caller, if given) are narrowed in SQL, on the indexed
`calls (tenant, started_at)`, with a text match on the JSON for the other fields; the
fields themselves (agent, order, account) are then compared exactly on the decoded JSON,
as SQLite's `json_extract` does, newest first, at most `MAX_ROWS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg

from ivr.adapters.postgres.database import Connection, describe, first_line, scrub
from ivr.adapters.postgres.reports import read_only_connection
from ivr.adapters.storage.codec import decode_detail
from ivr.adapters.supervision.recordings import MAX_ROWS, Found, RecordingSearch, SearchError, found_row

_COLUMNS = "r.recording_id, c.call_id, c.started_at, c.caller, c.flow, r.duration, r.metadata"


def search_postgres(url: str, query: RecordingSearch) -> list[Found]:
    """The newest recordings that match (at most `MAX_ROWS`)."""
    where = ["c.tenant = %s", "c.started_at >= %s", "c.started_at < %s"]
    params: list[object] = [query.tenant, query.start, query.end]
    if query.caller:
        where.append("strpos(c.caller, %s) > 0")
        params.append(query.caller)
    for value in (query.agent, query.order):
        if value:
            where.append("strpos(r.metadata, %s) > 0")
            params.append(value)
    if query.account:
        where.append(
            "(strpos(r.metadata, %s) > 0 OR EXISTS (SELECT 1 FROM events e"
            " WHERE e.call_id = c.call_id AND e.kind = 'queue' AND strpos(e.detail, %s) > 0))"
        )
        params += [query.account, query.account]
    queue_data = "(SELECT array_agg(e.detail) FROM events e WHERE e.call_id = c.call_id AND e.kind = 'queue')"
    sql = (
        f"SELECT {_COLUMNS}, {queue_data} FROM calls c JOIN recordings r ON r.call_id = c.call_id"
        f" WHERE {' AND '.join(where)} ORDER BY c.started_at DESC, r.seq DESC"
    )
    found: list[Found] = []
    with _reading(url) as conn, conn.transaction(), conn.cursor(name="recordings") as cursor:
        cursor.execute(sql, params)
        for row in cursor:
            if _matches(query, decode_detail(row[6]), row[7] or ()):
                found.append(_found(row[:7]))
                if len(found) == MAX_ROWS:
                    break
    return found


def find_postgres(url: str, tenant: str, recording_id: str) -> tuple[Found, str | None] | None:
    """One recording of `tenant` and its audio file's path (None: not this tenant's)."""
    with _reading(url) as conn:
        row = conn.execute(
            f"SELECT {_COLUMNS}, r.path FROM recordings r JOIN calls c ON c.call_id = r.call_id"
            " WHERE r.recording_id = %s AND c.tenant = %s",
            (recording_id, tenant),
        ).fetchone()
    return None if row is None else (_found(row[:7]), row[7])


def _matches(query: RecordingSearch, meta: Mapping[str, object], queue_details: Iterable[str]) -> bool:
    if query.agent and not (meta.get("agent") == query.agent or _lists(meta.get("agents"), query.agent)):
        return False
    if query.order and not _lists(meta.get("orders"), query.order):
        return False
    if query.account and meta.get("account") != query.account:
        brought = (decode_detail(d).get("data") for d in queue_details)
        return any(isinstance(data, dict) and data.get("account") == query.account for data in brought)
    return True


def _lists(values: object, value: str) -> bool:
    return isinstance(values, list) and value in values


def _found(row: tuple[Any, ...]) -> Found:
    recording_id, call_id, started, caller, flow, duration, metadata = row
    return found_row(recording_id, call_id, started, caller, flow, duration, decode_detail(metadata))


@contextmanager
def _reading(url: str) -> Iterator[Connection]:
    """A read-only connection; PostgreSQL's errors as one `SearchError` line."""
    try:
        with read_only_connection(url) as conn:
            yield conn
    except psycopg.Error as exc:
        reason = first_line(scrub(str(exc), url))
        raise SearchError(
            f"cannot read the call records in PostgreSQL at {describe(url)}: {reason}"
        ) from None
