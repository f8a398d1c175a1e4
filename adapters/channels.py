"""`OutboxChannels`: the `MessageChannels` port as a durable outbox table in SQLite.

Place: the outer ring. A `send` node's message is validated for its channel kind and written
to the `outbox` table (status "pending") before `send` returns its delivery id, so nothing
promised to a caller is lost on a restart. A real gateway (SMS, SMTP, fax) is out of scope:
it would read pending rows and mark them sent. Addresses: sms and fax take 5 to 20 digits
with an optional leading "+"; email needs one "@" with text on both sides.

    async with open_outbox_channels(path, {"sms": "sms", "email": "email"}) as channels:
        delivery_id = await channels.send("sms", "13800138000", "Your order is placed", None)
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import trio

from ivr.adapters.data.errors import ServiceConfigError
from ivr.adapters.storage.codec import decode_time, encode_detail, encode_time
from ivr.adapters.storage.schema import Migration, connect, migrate
from ivr.runtime.ports import DeliveryError, MessageChannels

ADDRESS_RULES = {
    "sms": (re.compile(r"\+?\d{5,20}"), "5 to 20 digits"),
    "fax": (re.compile(r"\+?\d{5,20}"), "5 to 20 digits"),
    "email": (re.compile(r"[^@\s]+@[^@\s]+"), "an address with one @"),
}
COMPONENT = "outbox"
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
    )
]


@dataclass(frozen=True)
class OutboxMessage:
    delivery_id: str
    channel: str
    kind: str
    to: str
    message: str | None
    document_ref: str | None
    created_at: datetime
    status: str


@asynccontextmanager
async def open_outbox_channels(
    path: Path | str, channels: Mapping[str, str]
) -> AsyncIterator[OutboxChannels]:
    """Open the outbox for channels given as name -> kind (sms, email, fax)."""
    if unknown := {name: kind for name, kind in channels.items() if kind not in ADDRESS_RULES}:
        raise ServiceConfigError(
            [
                f"channel {name!r}: unknown kind {kind!r} (use sms, email or fax)"
                for name, kind in unknown.items()
            ]
        )
    conn = await trio.to_thread.run_sync(_open, path)
    try:
        yield OutboxChannels(conn, channels)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(conn.close)


class OutboxChannels:
    """Validates and durably queues messages; create with `open_outbox_channels`."""

    def __init__(self, conn: sqlite3.Connection, channels: Mapping[str, str]) -> None:
        self._conn = conn
        self._kinds = dict(channels)
        self._lock = trio.Lock()

    async def send(self, channel: str, to: str, message: str | None, document: object | None) -> str:
        """Queue the message; its delivery id once it is on disk, or `DeliveryError`."""
        kind = self._kinds.get(channel)
        if kind is None:
            raise DeliveryError(f"no channel {channel!r} (the service declares {sorted(self._kinds)})")
        to = to.strip()
        pattern, rule = ADDRESS_RULES[kind]
        if not pattern.fullmatch(to):
            raise DeliveryError(f"{to!r} is not a valid {kind} address for channel {channel!r}: need {rule}")
        if message is None and document is None:
            raise DeliveryError(f"nothing to send on channel {channel!r}: no message and no document")
        delivery_id = uuid.uuid4().hex
        row = (
            delivery_id,
            channel,
            kind,
            to,
            message,
            _document_ref(document),
            encode_time(datetime.now(UTC)),
        )
        await self._execute("INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')", row)
        return delivery_id

    async def messages(self, status: str | None = None) -> list[OutboxMessage]:
        """Queued messages, oldest first (all, or those with the given status)."""
        query = "SELECT * FROM outbox WHERE ? IS NULL OR status = ? ORDER BY rowid"
        async with self._lock:
            rows = await trio.to_thread.run_sync(
                lambda: self._conn.execute(query, (status, status)).fetchall()
            )
        return [_message(row) for row in rows]

    async def mark(self, delivery_id: str, status: str) -> None:
        """For a delivery gateway: record the outcome ("sent", "failed") of one message."""
        await self._execute("UPDATE outbox SET status = ? WHERE delivery_id = ?", (status, delivery_id))

    async def _execute(self, statement: str, params: tuple[object, ...]) -> None:
        async with self._lock:
            try:
                # One statement in autocommit mode: its own transaction, on disk on return.
                await trio.to_thread.run_sync(self._conn.execute, statement, params)
            except sqlite3.Error as exc:
                raise DeliveryError(f"the outbox could not store the message: {exc}") from exc


def _open(path: Path | str) -> sqlite3.Connection:
    conn = connect(path)
    migrate(conn, COMPONENT, MIGRATIONS)
    return conn


def _message(row: tuple[str, str, str, str, str | None, str | None, str, str]) -> OutboxMessage:
    delivery_id, channel, kind, to, message, document_ref, created_at, status = row
    created = decode_time(created_at)
    return OutboxMessage(delivery_id, channel, kind, to, message, document_ref, created, status)


def _document_ref(document: object | None) -> str | None:
    if document is None or isinstance(document, str):
        return document
    if isinstance(document, Mapping):
        return encode_detail(document)
    return str(document)


def _implements_the_port(channels: OutboxChannels) -> MessageChannels:
    return channels  # mypy checks here that OutboxChannels satisfies the runtime's port
