"""`SqliteCallbackJournal`: the ACD's `CallbackJournal` port on SQLite: kept places (a caller
who pressed the callback key) and every step of their callbacks.

Place: the outer ring, beside the agents' journal (`ivr.adapters.cti.audit`) whose file it
shares in `ivr serve` (its own tables and migrations, component `acd_callbacks`). Each
write commits with `synchronous=FULL` before it returns, so a place the caller was told is
kept survives kill -9; `pending` reads back the places not yet closed (connected, hung up
or given up), oldest first, with the calls already placed to each. Reports count callbacks
from `callback_steps` (`step_counts`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import trio

from ivr.adapters.storage.codec import decode_detail, encode_detail
from ivr.adapters.storage.schema import Migration, connect, prepare
from ivr.runtime.ports import CallbackJournal, CallbackStep, KeptPlace

COMPONENT = "acd_callbacks"
MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE kept_places (
                call_id TEXT PRIMARY KEY, queue TEXT NOT NULL, skills TEXT NOT NULL,
                priority INTEGER NOT NULL, number TEXT NOT NULL, accepted_at TEXT NOT NULL,
                screen TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, closed_at TEXT)""",
            "CREATE INDEX kept_places_open ON kept_places (accepted_at) WHERE closed_at IS NULL",
            """CREATE TABLE callback_steps (
                id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL, step TEXT NOT NULL,
                at TEXT NOT NULL, detail TEXT NOT NULL)""",
            "CREATE INDEX callback_steps_at ON callback_steps (at)",
        ],
    ),
]
CLOSING = ("connected", "hung_up", "gave_up")
Row = tuple[Any, ...]
_Work = Callable[[sqlite3.Connection, Row], list[Row]]


class SqliteCallbackJournal:
    """Create with `await SqliteCallbackJournal.open(path)`."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = trio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> SqliteCallbackJournal:
        path = Path(path)
        await trio.to_thread.run_sync(prepare, path, COMPONENT, MIGRATIONS)
        return cls(path)

    async def keep(self, place: KeptPlace) -> None:
        row = (
            place.call_id,
            place.queue,
            json.dumps(list(place.skills)),
            place.priority,
            place.number,
            place.accepted_at.isoformat(),
            encode_detail(place.screen),
            place.attempts,
        )
        await self._run(_keep, row)

    async def step(self, call_id: str, step: CallbackStep, at: datetime, detail: str = "") -> None:
        await self._run(_step, (call_id, step, at.isoformat(), detail))

    async def pending(self) -> list[KeptPlace]:
        rows = await self._run(_pending, ())
        return [
            KeptPlace(call_id, queue, json.loads(skills), priority, number, datetime.fromisoformat(at),
                      decode_detail(screen), attempts)
            for call_id, queue, skills, priority, number, at, screen, attempts in rows
        ]  # fmt: skip

    async def step_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        """How many times each step happened in [since, until) (e.g. callbacks accepted)."""
        rows = await self._run(_counts, (since.isoformat(), until.isoformat()))
        return {step: count for step, count in rows}

    async def _run(self, work: _Work, args: Row) -> list[Row]:
        async with self._lock:
            return await trio.to_thread.run_sync(_with_connection, self._path, work, args)


def _with_connection(path: Path, work: _Work, args: Row) -> list[Row]:
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        result = work(conn, args)
        conn.execute("COMMIT")
        return list(result)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def _keep(conn: sqlite3.Connection, row: Row) -> list[Row]:
    conn.execute(
        "INSERT OR REPLACE INTO kept_places (call_id, queue, skills, priority, number, accepted_at, screen,"
        " attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )
    return []


def _step(conn: sqlite3.Connection, row: Row) -> list[Row]:
    call_id, step, at, _ = row
    conn.execute("INSERT INTO callback_steps (call_id, step, at, detail) VALUES (?, ?, ?, ?)", row)
    if step == "dialled":
        conn.execute("UPDATE kept_places SET attempts = attempts + 1 WHERE call_id = ?", (call_id,))
    if step in CLOSING:
        conn.execute(
            "UPDATE kept_places SET closed_at = ? WHERE call_id = ? AND closed_at IS NULL", (at, call_id)
        )
    return []


def _pending(conn: sqlite3.Connection, _: Row) -> list[Row]:
    return conn.execute(
        "SELECT call_id, queue, skills, priority, number, accepted_at, screen, attempts FROM kept_places"
        " WHERE closed_at IS NULL ORDER BY accepted_at, rowid"
    ).fetchall()


def _counts(conn: sqlite3.Connection, args: Row) -> list[Row]:
    return conn.execute(
        "SELECT step, count(*) FROM callback_steps WHERE at >= ? AND at < ? GROUP BY step", args
    ).fetchall()


def _implements_the_port(journal: SqliteCallbackJournal) -> CallbackJournal:
    return journal  # mypy checks here that the class satisfies the runtime's port
