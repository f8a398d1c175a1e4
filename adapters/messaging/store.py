"""`Outbox`: the durable table of messages and their delivery attempts (SQLite).

Place: under `channels` (which adds messages) and `worker` (which claims and finishes
them); read by `ivr messages` and the HTTP view. A message moves through

    queued ──claim──► sending ──► sent                       (the gateway accepted it)
      ▲                  │   ├──► queued, later            (a retryable failure: back-off)
      └──── retry ◄──────┤   ├──► dead                     (refused for good, or out of attempts)
         (an operator)   │   └──► in_doubt                 (lost while being handed over)
                         └─ a crash: see `recover`

Every step is one transaction with `synchronous=FULL`, so it is on disk before the next
step acts: a message is `sending` (with its attempt counted and an attempt row) before the
worker connects to the gateway, and `handoff_at` is set just before the bytes that can
deliver it leave the process. One process owns an outbox file at a time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol, TypeVar

import trio

from ivr.adapters.errors import AdapterError
from ivr.adapters.storage.codec import decode_time, encode_time
from ivr.adapters.storage.schema import Migration, connect, migrate
from ivr.runtime.ports import MessageOrigin

MessageStatus = Literal["queued", "sending", "sent", "dead", "in_doubt", "delivered", "failed"]
STATUSES: tuple[MessageStatus, ...] = ("queued", "sending", "sent", "dead", "in_doubt", "delivered", "failed")
"""`delivered` and `failed` come from the gateway's delivery receipt, after `sent` (`receipt`)."""
COMPONENT = "outbox"
T = TypeVar("T")

MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE outbox (
                delivery_id TEXT PRIMARY KEY, channel TEXT NOT NULL, kind TEXT NOT NULL,
                recipient TEXT NOT NULL, message TEXT, document_ref TEXT,
                created_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending')""",
            "CREATE INDEX outbox_status ON outbox (status, created_at)",
        ],
    ),
    (
        2,
        [
            # document: the document as JSON (version 1 kept mappings as JSON, text as is)
            "ALTER TABLE outbox ADD COLUMN document TEXT",
            """UPDATE outbox SET document = CASE WHEN document_ref IS NULL THEN NULL
                 WHEN json_valid(document_ref) THEN document_ref ELSE json_quote(document_ref) END""",
            "ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE outbox ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 6",
            "ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT",
            "ALTER TABLE outbox ADD COLUMN handoff_at TEXT",
            "ALTER TABLE outbox ADD COLUMN updated_at TEXT",
            "ALTER TABLE outbox ADD COLUMN sent_at TEXT",
            "ALTER TABLE outbox ADD COLUMN last_error TEXT",
            "ALTER TABLE outbox ADD COLUMN gateway_ref TEXT",
            "ALTER TABLE outbox ADD COLUMN call_id TEXT",
            "ALTER TABLE outbox ADD COLUMN flow TEXT",
            "ALTER TABLE outbox ADD COLUMN node TEXT",
            """UPDATE outbox SET status = 'queued', next_attempt_at = created_at,
                 updated_at = created_at WHERE status = 'pending'""",
            "UPDATE outbox SET status = 'dead', last_error = 'marked failed before version 2' "
            "WHERE status = 'failed'",
            "CREATE INDEX outbox_due ON outbox (channel, status, next_attempt_at)",
            "CREATE INDEX outbox_call ON outbox (call_id)",
            """CREATE TABLE outbox_attempts (
                delivery_id TEXT NOT NULL, attempt INTEGER NOT NULL, started_at TEXT NOT NULL,
                handoff_at TEXT, ended_at TEXT, outcome TEXT, detail TEXT,
                PRIMARY KEY (delivery_id, attempt))""",
        ],
    ),
    (
        3,
        [
            # texts that came in (the SMS webhook): one row per gateway message id, so a
            # webhook the gateway retries is answered once; reply_id: the reply's delivery id
            """CREATE TABLE inbound_sms (
                channel TEXT NOT NULL, gateway_id TEXT NOT NULL, sender TEXT NOT NULL,
                text TEXT NOT NULL, received_at TEXT NOT NULL, keyword TEXT, reply_id TEXT,
                PRIMARY KEY (channel, gateway_id))""",
            "ALTER TABLE outbox ADD COLUMN receipt_at TEXT",
            "CREATE INDEX outbox_gateway_ref ON outbox (channel, gateway_ref)",
        ],
    ),
]

_COLUMNS = (
    "delivery_id, channel, kind, recipient, message, document, created_at, status, attempts, "
    "max_attempts, next_attempt_at, updated_at, sent_at, last_error, gateway_ref, call_id, flow, node"
)


class OutboxError(AdapterError):
    """The outbox database failed (disk full, locked by another process, corrupt)."""


@dataclass(frozen=True)
class NewMessage:
    delivery_id: str
    channel: str
    kind: str
    to: str
    message: str | None
    document: object | None  # JSON-ready
    max_attempts: int
    origin: MessageOrigin | None


@dataclass(frozen=True)
class StoredMessage:
    """One message as the outbox holds it."""

    delivery_id: str
    channel: str
    kind: str
    to: str
    message: str | None
    document: object | None
    created_at: datetime
    status: MessageStatus
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    updated_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    gateway_ref: str | None
    origin: MessageOrigin | None

    def summary(self) -> dict[str, object]:
        """JSON for the CLI and the HTTP view (no message text, no document)."""
        return {
            "id": self.delivery_id,
            "channel": self.channel,
            "kind": self.kind,
            "to": self.to,
            "status": self.status,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "created": self.created_at.isoformat(),
            "updated": _iso(self.updated_at),
            "next_attempt": _iso(self.next_attempt_at) if self.status == "queued" else None,
            "sent": _iso(self.sent_at),
            "last_error": self.last_error,
            "gateway_ref": self.gateway_ref,
            "call": self.origin.call_id if self.origin else None,
            "flow": self.origin.flow if self.origin else None,
            "node": self.origin.node if self.origin else None,
        }


@dataclass(frozen=True)
class AttemptRecord:
    attempt: int
    started_at: datetime
    handoff_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    detail: str | None

    def summary(self) -> dict[str, object]:
        return {
            "attempt": self.attempt,
            "started": self.started_at.isoformat(),
            "handed_over": _iso(self.handoff_at),
            "ended": _iso(self.ended_at),
            "outcome": self.outcome,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Recovery:
    """What `recover` did with the messages a stopped process left `sending`."""

    requeued: tuple[str, ...] = ()
    in_doubt: tuple[str, ...] = ()


class OutboxStore(Protocol):
    """What the channels, the workers, the HTTP view and `ivr messages` use of an outbox:
    the SQLite `Outbox` here and `ivr.adapters.postgres.outbox.PostgresOutbox` (the same
    conformance test, `tests/adapters/messaging/test_outbox_stores.py`)."""

    async def aclose(self) -> None: ...
    async def add(self, new: NewMessage, now: datetime) -> None: ...
    async def claim(self, channel: str, now: datetime) -> StoredMessage | None: ...
    async def mark_handoff(self, delivery_id: str, attempt: int, now: datetime) -> None: ...
    async def finish(
        self,
        delivery_id: str,
        attempt: int,
        *,
        status: MessageStatus,
        outcome: str,
        detail: str,
        now: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        gateway_ref: str | None = None,
    ) -> None: ...
    async def recover(self, resend: Collection[str], now: datetime) -> Recovery: ...
    async def retry(self, delivery_id: str, now: datetime, extra_attempts: int) -> StoredMessage | None: ...
    async def receipt(
        self, channel: str, reference: str, *, delivered: bool, reason: str | None, now: datetime
    ) -> StoredMessage | None: ...
    async def note_inbound(
        self, channel: str, gateway_id: str, sender: str, text: str, now: datetime
    ) -> bool: ...
    async def forget_inbound(self, channel: str, gateway_id: str) -> None: ...
    async def inbound_answered(
        self, channel: str, gateway_id: str, keyword: str | None, reply_id: str | None
    ) -> None: ...
    async def inbound(self, limit: int = 100) -> list[dict[str, object]]: ...
    async def get(self, delivery_id: str) -> StoredMessage | None: ...
    async def status(self, delivery_id: str) -> MessageStatus | None: ...
    async def next_due(self, channel: str) -> datetime | None: ...
    async def messages(
        self,
        *,
        status: str | None = None,
        channel: str | None = None,
        call_id: str | None = None,
        limit: int = 100,
    ) -> list[StoredMessage]: ...
    async def attempts(self, delivery_id: str) -> list[AttemptRecord]: ...
    async def counts(self) -> dict[str, dict[str, int]]: ...


async def open_outbox(path: Path | str) -> Outbox:
    """Open (create, migrate) the outbox file; close it with `aclose`."""
    try:
        conn = await trio.to_thread.run_sync(_open, path)
    except sqlite3.Error as exc:
        raise OutboxError(f"{path}: the outbox cannot be opened: {exc}") from exc
    return Outbox(conn)


class Outbox:
    """Async access to the outbox table; one connection, one statement at a time."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = trio.Lock()

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            async with self._lock:
                await trio.to_thread.run_sync(self._conn.close)

    # -- writes ---------------------------------------------------------------------------
    async def add(self, new: NewMessage, now: datetime) -> None:
        """Queue a message, due at once; on disk when this returns."""
        at = encode_time(now)
        origin = new.origin
        row = (
            new.delivery_id, new.channel, new.kind, new.to, new.message, _json(new.document), at, "queued",
            0, new.max_attempts, at, at, None, None, None,
            *((origin.call_id, origin.flow, origin.node) if origin else (None, None, None)),
        )  # fmt: skip
        await self._write(lambda c: c.execute(f"INSERT INTO outbox ({_COLUMNS}) VALUES ({_marks(18)})", row))

    async def claim(self, channel: str, now: datetime) -> StoredMessage | None:
        """The oldest due message of `channel`, now `sending` with one more attempt counted
        (and an attempt row), or None when nothing is due."""
        return await self._write(lambda c: _claim(c, channel, encode_time(now)))

    async def mark_handoff(self, delivery_id: str, attempt: int, now: datetime) -> None:
        """Record that the message is being handed to the gateway: from here a crash leaves
        it possibly delivered (see `recover`)."""
        at = encode_time(now)

        def write(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE outbox SET handoff_at = ?, updated_at = ? WHERE delivery_id = ?",
                (at, at, delivery_id),
            )
            c.execute(
                "UPDATE outbox_attempts SET handoff_at = ? WHERE delivery_id = ? AND attempt = ?",
                (at, delivery_id, attempt),
            )

        await self._write(write)

    async def finish(
        self,
        delivery_id: str,
        attempt: int,
        *,
        status: MessageStatus,
        outcome: str,
        detail: str,
        now: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        gateway_ref: str | None = None,
    ) -> None:
        """Close an attempt (its `outcome` and `detail`) and move the message to `status`
        (with `error` as its last error, when it is not sent)."""
        at = encode_time(now)
        due = encode_time(next_attempt_at) if next_attempt_at else None
        sent_at = at if status == "sent" else None

        def write(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE outbox SET status = ?, next_attempt_at = ?, updated_at = ?, handoff_at = NULL, "
                "sent_at = coalesce(?, sent_at), last_error = coalesce(?, last_error), "
                "gateway_ref = coalesce(?, gateway_ref) WHERE delivery_id = ?",
                (status, due, at, sent_at, error, gateway_ref, delivery_id),
            )
            c.execute(
                "UPDATE outbox_attempts SET ended_at = ?, outcome = ?, detail = ? "
                "WHERE delivery_id = ? AND attempt = ?",
                (at, outcome, detail, delivery_id, attempt),
            )

        await self._write(write)

    async def recover(self, resend: Collection[str], now: datetime) -> Recovery:
        """Settle the messages a stopped process left `sending`. One that had not been
        handed over yet is queued again (it cannot have left). One that had: queued again
        on the channels in `resend` (their gateways drop a second copy with the same
        reference), else `in_doubt`, never resent without an operator (`ivr messages retry`)."""
        return await self._write(lambda c: _recover(c, frozenset(resend), encode_time(now)))

    async def retry(self, delivery_id: str, now: datetime, extra_attempts: int) -> StoredMessage | None:
        """An operator's retry of a `dead` or `in_doubt` message: queued now, with
        `extra_attempts` more tries. None when there is no such message in those states."""
        at = encode_time(now)

        def write(c: sqlite3.Connection) -> int:
            cursor = c.execute(
                "UPDATE outbox SET status = 'queued', next_attempt_at = ?, updated_at = ?, "
                "max_attempts = attempts + ? WHERE delivery_id = ? AND status IN ('dead', 'in_doubt')",
                (at, at, extra_attempts, delivery_id),
            )
            return cursor.rowcount

        changed = await self._write(write)
        return await self.get(delivery_id) if changed else None

    async def receipt(
        self, channel: str, reference: str, *, delivered: bool, reason: str | None, now: datetime
    ) -> StoredMessage | None:
        """A gateway's delivery receipt for the message it knows as `reference` (its own
        message id, or our delivery id): now `delivered`, or `failed` with the gateway's
        `reason`. None when no message of `channel` has that reference."""
        at = encode_time(now)
        status = "delivered" if delivered else "failed"

        def write(c: sqlite3.Connection) -> str | None:
            row = c.execute(
                "SELECT delivery_id FROM outbox WHERE channel = ? AND (gateway_ref = ? OR delivery_id = ?) "
                "ORDER BY created_at DESC LIMIT 1",
                (channel, reference, reference),
            ).fetchone()
            if row is None:
                return None
            c.execute(
                "UPDATE outbox SET status = ?, receipt_at = ?, updated_at = ?, "
                "last_error = CASE WHEN ? THEN last_error ELSE ? END WHERE delivery_id = ?",
                (status, at, at, delivered, reason, row[0]),
            )
            return str(row[0])

        found = await self._write(write)
        return await self.get(found) if found is not None else None

    async def note_inbound(
        self, channel: str, gateway_id: str, sender: str, text: str, now: datetime
    ) -> bool:
        """Keep a text that came in; False when `gateway_id` was seen before (a retried
        webhook: it was answered, or is being answered, already)."""
        row = (channel, gateway_id, sender, text, encode_time(now))

        def write(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                "INSERT OR IGNORE INTO inbound_sms (channel, gateway_id, sender, text, received_at) "
                "VALUES (?, ?, ?, ?, ?)",
                row,
            )
            return cursor.rowcount == 1

        return await self._write(write)

    async def forget_inbound(self, channel: str, gateway_id: str) -> None:
        """Take back `note_inbound` (the text could not be answered: the retry may try)."""
        await self._write(
            lambda c: c.execute(
                "DELETE FROM inbound_sms WHERE channel = ? AND gateway_id = ? AND reply_id IS NULL",
                (channel, gateway_id),
            )
        )

    async def inbound_answered(
        self, channel: str, gateway_id: str, keyword: str | None, reply_id: str | None
    ) -> None:
        """What a text was taken for (its keyword) and the delivery id of the reply."""
        await self._write(
            lambda c: c.execute(
                "UPDATE inbound_sms SET keyword = ?, reply_id = ? WHERE channel = ? AND gateway_id = ?",
                (keyword, reply_id, channel, gateway_id),
            )
        )

    async def inbound(self, limit: int = 100) -> list[dict[str, object]]:
        """The texts that came in, newest first (channel, id, from, text, received, keyword, reply)."""
        rows = await self._read(
            lambda c: c.execute(
                "SELECT channel, gateway_id, sender, text, received_at, keyword, reply_id FROM inbound_sms "
                "ORDER BY received_at DESC, rowid DESC LIMIT ?",
                (max(0, limit),),
            ).fetchall()
        )
        names = ("channel", "id", "from", "text", "received", "keyword", "reply")
        return [dict(zip(names, row, strict=True)) for row in rows]

    # -- reads ----------------------------------------------------------------------------
    async def get(self, delivery_id: str) -> StoredMessage | None:
        rows = await self._read(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE delivery_id = ?", (delivery_id,)
            ).fetchall()
        )
        return message_from_row(rows[0]) if rows else None

    async def status(self, delivery_id: str) -> MessageStatus | None:
        rows = await self._read(
            lambda c: c.execute("SELECT status FROM outbox WHERE delivery_id = ?", (delivery_id,)).fetchall()
        )
        return status_of(rows[0][0]) if rows else None

    async def next_due(self, channel: str) -> datetime | None:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT min(next_attempt_at) FROM outbox WHERE channel = ? AND status = 'queued'", (channel,)
            ).fetchall()
        )
        return decode_time(rows[0][0]) if rows and rows[0][0] else None

    async def messages(
        self,
        *,
        status: str | None = None,
        channel: str | None = None,
        call_id: str | None = None,
        limit: int = 100,
    ) -> list[StoredMessage]:
        """Messages, newest first, filtered by status, channel and call."""
        query = (
            f"SELECT {_COLUMNS} FROM outbox WHERE (?1 IS NULL OR status = ?1) "
            "AND (?2 IS NULL OR channel = ?2) AND (?3 IS NULL OR call_id = ?3) "
            "ORDER BY created_at DESC, rowid DESC LIMIT ?4"
        )
        params = (status, channel, call_id, max(0, limit))
        rows = await self._read(lambda c: c.execute(query, params).fetchall())
        return [message_from_row(row) for row in rows]

    async def attempts(self, delivery_id: str) -> list[AttemptRecord]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT attempt, started_at, handoff_at, ended_at, outcome, detail FROM outbox_attempts "
                "WHERE delivery_id = ? ORDER BY attempt",
                (delivery_id,),
            ).fetchall()
        )
        return [
            AttemptRecord(n, decode_time(s), _time(h), _time(e), outcome, detail)
            for n, s, h, e, outcome, detail in rows
        ]

    async def counts(self) -> dict[str, dict[str, int]]:
        """channel -> status -> number of messages."""
        rows = await self._read(
            lambda c: c.execute(
                "SELECT channel, status, count(*) FROM outbox GROUP BY channel, status"
            ).fetchall()
        )
        counts: dict[str, dict[str, int]] = {}
        for channel, status, n in rows:
            counts.setdefault(channel, {})[status] = n
        return counts

    # -- plumbing -------------------------------------------------------------------------
    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one transaction in a worker thread; committed (on disk) on return."""

        def transaction() -> T:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result

        async with self._lock:
            try:
                return await trio.to_thread.run_sync(transaction)
            except sqlite3.Error as exc:
                raise OutboxError(f"the outbox could not be written: {exc}") from exc

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            try:
                return await trio.to_thread.run_sync(work, self._conn)
            except sqlite3.Error as exc:
                raise OutboxError(f"the outbox could not be read: {exc}") from exc


def _open(path: Path | str) -> sqlite3.Connection:
    conn = connect(path)
    migrate(conn, COMPONENT, MIGRATIONS)
    return conn


def _claim(c: sqlite3.Connection, channel: str, at: str) -> StoredMessage | None:
    row = c.execute(
        f"SELECT {_COLUMNS} FROM outbox WHERE channel = ? AND status = 'queued' AND next_attempt_at <= ? "
        "ORDER BY next_attempt_at, rowid LIMIT 1",
        (channel, at),
    ).fetchone()
    if row is None:
        return None
    delivery_id, attempt = row[0], row[8] + 1
    c.execute(
        "UPDATE outbox SET status = 'sending', attempts = ?, updated_at = ?, handoff_at = NULL "
        "WHERE delivery_id = ?",
        (attempt, at, delivery_id),
    )
    c.execute(
        "INSERT OR REPLACE INTO outbox_attempts (delivery_id, attempt, started_at) VALUES (?, ?, ?)",
        (delivery_id, attempt, at),
    )
    return message_from_row((*row[:7], "sending", attempt, *row[9:]))


def _recover(c: sqlite3.Connection, resend: frozenset[str], at: str) -> Recovery:
    rows = c.execute(
        "SELECT delivery_id, channel, attempts, handoff_at FROM outbox WHERE status = 'sending'"
    ).fetchall()
    requeued: list[str] = []
    doubtful: list[str] = []
    for delivery_id, channel, attempt, handoff in rows:
        if handoff is None:
            status, outcome, detail = (
                "queued",
                "interrupted",
                "the process stopped before the message left it",
            )
        elif channel in resend:
            status, outcome = "queued", "interrupted"
            detail = "the process stopped while handing it over; resent with the same reference"
        else:
            status, outcome = "in_doubt", "in_doubt"
            detail = "the process stopped while handing it to the gateway: it may have been sent"
        (requeued if status == "queued" else doubtful).append(delivery_id)
        c.execute(
            "UPDATE outbox SET status = ?, next_attempt_at = ?, updated_at = ?, handoff_at = NULL, "
            "last_error = ? WHERE delivery_id = ?",
            (status, at, at, detail, delivery_id),
        )
        c.execute(
            "UPDATE outbox_attempts SET ended_at = ?, outcome = ?, detail = ? "
            "WHERE delivery_id = ? AND attempt = ?",
            (at, outcome, detail, delivery_id, attempt),
        )
    return Recovery(tuple(requeued), tuple(doubtful))


def message_from_row(row: tuple[object, ...]) -> StoredMessage:
    """A `StoredMessage` from the `_COLUMNS` of a row (times as text, or read back as datetimes)."""
    (delivery_id, channel, kind, to, message, document, created, status, attempts, max_attempts, due,
     updated, sent, error, gateway_ref, call_id, flow, node) = row  # fmt: skip
    origin = MessageOrigin(str(call_id), str(flow or ""), str(node or "")) if call_id else None
    return StoredMessage(
        str(delivery_id), str(channel), str(kind), str(to),
        None if message is None else str(message),
        None if document is None else json.loads(str(document)),
        _when(created), status_of(status), int(str(attempts)), int(str(max_attempts)),
        _time(due), _time(updated), _time(sent),
        None if error is None else str(error), None if gateway_ref is None else str(gateway_ref), origin,
    )  # fmt: skip


def status_of(value: object) -> MessageStatus:
    for status in STATUSES:
        if value == status:
            return status
    raise OutboxError(f"the outbox holds an unknown status {value!r}")


def _time(value: object) -> datetime | None:
    return _when(value) if value else None


def _when(value: object) -> datetime:
    return value if isinstance(value, datetime) else decode_time(str(value))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _json(value: object | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _marks(n: int) -> str:
    return ", ".join("?" * n)
