"""`PostgresOutbox`: the messages outbox on PostgreSQL, the same methods as the SQLite `Outbox`.

Place: what `ivr.adapters.messaging.store` is on one server's file, on the database the
instances share (docs/cluster.md); chosen by `ivr.adapters.messaging.service.open_outbox_at`
(a `PostgresOutboxPlace`). The same conformance test runs on both
(`tests/adapters/messaging/test_outbox_stores.py`). Every step is one transaction, committed
before it returns (`synchronous_commit=on`).

Several instances' delivery workers drain one outbox: `claim` takes the oldest due message
with `FOR UPDATE SKIP LOCKED` (any sender may send any message, so a row another sender is
claiming is skipped, not waited for) and stamps it with this instance, so one message is
claimed by one sender at a time and sent once. `recover` (at start-up) settles only the
messages this instance left `sending`: a live peer's are its own; a silent peer's are
settled by the live instance that claims it (`claim_sending`, from the tenant's
`ivr.adapters.postgres.peers.PeerWatch`). `mark_handoff` and `finish` apply only while the
message is still this instance's claim (same instance, same attempt, still `sending`): an
instance that was silent, lost its claim and comes back is refused before anything leaves
it, and cannot overwrite what its peer decided. The delivery id stays the idempotency key
the gateways see, as on SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import psycopg

from ivr.adapters.messaging.store import (
    AttemptRecord,
    MessageStatus,
    NewMessage,
    OutboxError,
    Recovery,
    StoredMessage,
    message_from_row,
    status_of,
)
from ivr.adapters.postgres.database import Connection, Database, DatabaseUnavailable, first_line
from ivr.adapters.postgres.migrations import migrate
from ivr.adapters.postgres.values import pg_text, utc
from ivr.adapters.storage.schema import Migration

COMPONENT = "outbox"
T = TypeVar("T")
MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE outbox (
                seq BIGSERIAL UNIQUE, delivery_id TEXT PRIMARY KEY, channel TEXT NOT NULL,
                kind TEXT NOT NULL, recipient TEXT NOT NULL, message TEXT, document TEXT,
                created_at TIMESTAMPTZ NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                max_attempts INTEGER NOT NULL, next_attempt_at TIMESTAMPTZ, handoff_at TIMESTAMPTZ,
                updated_at TIMESTAMPTZ, sent_at TIMESTAMPTZ, last_error TEXT, gateway_ref TEXT,
                call_id TEXT, flow TEXT, node TEXT, receipt_at TIMESTAMPTZ,
                instance TEXT NOT NULL DEFAULT '')""",
            "CREATE INDEX outbox_due ON outbox (channel, next_attempt_at, seq) WHERE status = 'queued'",
            "CREATE INDEX outbox_sending ON outbox (instance) WHERE status = 'sending'",
            "CREATE INDEX outbox_created ON outbox (created_at, seq)",
            "CREATE INDEX outbox_call ON outbox (call_id)",
            "CREATE INDEX outbox_gateway_ref ON outbox (channel, gateway_ref)",
            """CREATE TABLE outbox_attempts (
                delivery_id TEXT NOT NULL, attempt INTEGER NOT NULL, started_at TIMESTAMPTZ NOT NULL,
                handoff_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, outcome TEXT, detail TEXT,
                instance TEXT NOT NULL DEFAULT '', PRIMARY KEY (delivery_id, attempt))""",
            """CREATE TABLE inbound_sms (
                seq BIGSERIAL UNIQUE, channel TEXT NOT NULL, gateway_id TEXT NOT NULL,
                sender TEXT NOT NULL, text TEXT NOT NULL, received_at TIMESTAMPTZ NOT NULL,
                keyword TEXT, reply_id TEXT, PRIMARY KEY (channel, gateway_id))""",
        ],
    ),
    # the customer's history on the desk: messages to an address, newest first
    (2, ["CREATE INDEX outbox_recipient ON outbox (recipient, created_at)"]),
]

_COLUMNS = (
    "delivery_id, channel, kind, recipient, message, document, created_at, status, attempts, "
    "max_attempts, next_attempt_at, updated_at, sent_at, last_error, gateway_ref, call_id, flow, node"
)


@dataclass(frozen=True)
class PostgresOutboxPlace:
    """Where a PostgreSQL outbox is: the database, this instance's name, the tenant's schema."""

    url: str
    instance: str = ""
    schema: str | None = None


async def open_postgres_outbox(place: PostgresOutboxPlace) -> PostgresOutbox:
    """The outbox at `place` (migrated); close it with `aclose`."""
    db = Database(place.url, size=2, name="ivr-outbox", schema=place.schema)
    try:
        await db.run(lambda conn: migrate(conn, COMPONENT, MIGRATIONS, schema=place.schema))
    except BaseException:
        await db.close()
        raise
    return PostgresOutbox(db, place.instance)


class PostgresOutbox:
    """Create with `open_postgres_outbox`."""

    def __init__(self, db: Database, instance: str = "") -> None:
        self.db = db
        self.instance = instance

    async def aclose(self) -> None:
        await self.db.close()

    # -- writes ---------------------------------------------------------------------------
    async def add(self, new: NewMessage, now: datetime) -> None:
        at = utc(now)
        origin = new.origin
        row = (
            new.delivery_id, new.channel, new.kind, pg_text(new.to), _text(new.message),
            _json(new.document), at, "queued", 0, new.max_attempts, at, at, None, None, None,
            *((origin.call_id, origin.flow, origin.node) if origin else (None, None, None)),
        )  # fmt: skip
        marks = ", ".join(["%s"] * 18)
        await self._run(lambda c: c.execute(f"INSERT INTO outbox ({_COLUMNS}) VALUES ({marks})", row))

    async def claim(self, channel: str, now: datetime) -> StoredMessage | None:
        """The oldest due message of `channel` no other sender holds, now `sending` by this
        instance with one more attempt counted (and an attempt row); None when none is due."""
        return await self._run(lambda c: _claim(c, channel, utc(now), self.instance))

    async def mark_handoff(self, delivery_id: str, attempt: int, now: datetime) -> None:
        at = utc(now)

        def write(c: Connection) -> None:
            held = c.execute(
                "UPDATE outbox SET handoff_at = %s, updated_at = %s WHERE delivery_id = %s"
                " AND status = 'sending' AND instance = %s AND attempts = %s",
                (at, at, delivery_id, self.instance, attempt),
            ).rowcount
            if held != 1:  # nothing has left the process: the worker records a retry, refused too
                raise OutboxError(_lost(delivery_id, attempt, self.instance))
            c.execute(
                "UPDATE outbox_attempts SET handoff_at = %s WHERE delivery_id = %s AND attempt = %s",
                (at, delivery_id, attempt),
            )

        await self._run(write)

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
        at = utc(now)
        due = utc(next_attempt_at) if next_attempt_at else None
        sent_at = at if status == "sent" else None

        params = (status, due, at, sent_at, _text(error), _text(gateway_ref), delivery_id, self.instance)

        def write(c: Connection) -> None:
            held = c.execute(
                "UPDATE outbox SET status = %s, next_attempt_at = %s, updated_at = %s, handoff_at = NULL, "
                "sent_at = coalesce(%s, sent_at), last_error = coalesce(%s, last_error), "
                "gateway_ref = coalesce(%s, gateway_ref) WHERE delivery_id = %s"
                " AND status = 'sending' AND instance = %s AND attempts = %s",
                (*params, attempt),
            ).rowcount
            if held != 1:  # a peer settled it meanwhile (this instance was silent): its word stands
                raise OutboxError(_lost(delivery_id, attempt, self.instance))
            c.execute(
                "UPDATE outbox_attempts SET ended_at = %s, outcome = %s, detail = %s "
                "WHERE delivery_id = %s AND attempt = %s",
                (at, outcome, pg_text(detail), delivery_id, attempt),
            )

        await self._run(write)

    async def recover(self, resend: Collection[str], now: datetime) -> Recovery:
        """Settle the messages this instance left `sending` (as the SQLite `Outbox.recover`);
        the other instances' are theirs."""
        return await self._run(lambda c: _recover(c, frozenset(resend), utc(now), self.instance))

    async def retry(self, delivery_id: str, now: datetime, extra_attempts: int) -> StoredMessage | None:
        at = utc(now)
        changed = await self._run(
            lambda c: (
                c.execute(
                    "UPDATE outbox SET status = 'queued', next_attempt_at = %s, updated_at = %s, "
                    "max_attempts = attempts + %s WHERE delivery_id = %s AND status IN ('dead', 'in_doubt')",
                    (at, at, extra_attempts, delivery_id),
                ).rowcount
            )
        )
        return await self.get(delivery_id) if changed else None

    async def receipt(
        self, channel: str, reference: str, *, delivered: bool, reason: str | None, now: datetime
    ) -> StoredMessage | None:
        at = utc(now)
        status = "delivered" if delivered else "failed"

        def write(c: Connection) -> str | None:
            row = c.execute(
                "SELECT delivery_id FROM outbox WHERE channel = %s "
                "AND (gateway_ref = %s OR delivery_id = %s) "
                "ORDER BY created_at DESC, seq DESC LIMIT 1 FOR UPDATE",
                (channel, reference, reference),
            ).fetchone()
            if row is None:
                return None
            c.execute(
                "UPDATE outbox SET status = %s, receipt_at = %s, updated_at = %s, "
                "last_error = CASE WHEN %s THEN last_error ELSE %s END WHERE delivery_id = %s",
                (status, at, at, delivered, _text(reason), row[0]),
            )
            return str(row[0])

        found = await self._run(write)
        return await self.get(found) if found is not None else None

    async def note_inbound(
        self, channel: str, gateway_id: str, sender: str, text: str, now: datetime
    ) -> bool:
        row = (channel, pg_text(gateway_id), pg_text(sender), pg_text(text), utc(now))
        return await self._run(
            lambda c: (
                c.execute(
                    "INSERT INTO inbound_sms (channel, gateway_id, sender, text, received_at) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    row,
                ).rowcount
                == 1
            )
        )

    async def forget_inbound(self, channel: str, gateway_id: str) -> None:
        await self._run(
            lambda c: c.execute(
                "DELETE FROM inbound_sms WHERE channel = %s AND gateway_id = %s AND reply_id IS NULL",
                (channel, pg_text(gateway_id)),
            )
        )

    async def inbound_answered(
        self, channel: str, gateway_id: str, keyword: str | None, reply_id: str | None
    ) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE inbound_sms SET keyword = %s, reply_id = %s WHERE channel = %s AND gateway_id = %s",
                (_text(keyword), reply_id, channel, pg_text(gateway_id)),
            )
        )

    async def inbound(self, limit: int = 100) -> list[dict[str, object]]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT channel, gateway_id, sender, text, received_at, keyword, reply_id FROM inbound_sms "
                "ORDER BY received_at DESC, seq DESC LIMIT %s",
                (max(0, limit),),
            ).fetchall()
        )
        names = ("channel", "id", "from", "text", "received", "keyword", "reply")
        return [dict(zip(names, (*row[:4], row[4].isoformat(), *row[5:]), strict=True)) for row in rows]

    # -- reads ----------------------------------------------------------------------------
    async def get(self, delivery_id: str) -> StoredMessage | None:
        rows = await self._run(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE delivery_id = %s", (delivery_id,)
            ).fetchall()
        )
        return _message(rows[0]) if rows else None

    async def status(self, delivery_id: str) -> MessageStatus | None:
        rows = await self._run(
            lambda c: c.execute("SELECT status FROM outbox WHERE delivery_id = %s", (delivery_id,)).fetchall()
        )
        return status_of(rows[0][0]) if rows else None

    async def next_due(self, channel: str) -> datetime | None:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT min(next_attempt_at) FROM outbox WHERE channel = %s AND status = 'queued'", (channel,)
            ).fetchall()
        )
        return utc(rows[0][0]) if rows and rows[0][0] else None

    async def messages(
        self,
        *,
        status: str | None = None,
        channel: str | None = None,
        call_id: str | None = None,
        limit: int = 100,
    ) -> list[StoredMessage]:
        query = (
            f"SELECT {_COLUMNS} FROM outbox WHERE (%(s)s::text IS NULL OR status = %(s)s) "
            "AND (%(ch)s::text IS NULL OR channel = %(ch)s) "
            "AND (%(call)s::text IS NULL OR call_id = %(call)s) "
            "ORDER BY created_at DESC, seq DESC LIMIT %(n)s"
        )
        params = {"s": status, "ch": channel, "call": call_id, "n": max(0, limit)}
        rows = await self._run(lambda c: c.execute(query, params).fetchall())
        return [_message(row) for row in rows]

    async def attempts(self, delivery_id: str) -> list[AttemptRecord]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT attempt, started_at, handoff_at, ended_at, outcome, detail FROM outbox_attempts "
                "WHERE delivery_id = %s ORDER BY attempt",
                (delivery_id,),
            ).fetchall()
        )
        return [
            AttemptRecord(n, utc(s), _time(h), _time(e), outcome, detail)
            for n, s, h, e, outcome, detail in rows
        ]

    async def counts(self) -> dict[str, dict[str, int]]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT channel, status, count(*) FROM outbox GROUP BY channel, status"
            ).fetchall()
        )
        counts: dict[str, dict[str, int]] = {}
        for channel, status, n in rows:
            counts.setdefault(str(channel), {})[str(status)] = int(n)
        return counts

    async def _run(self, work: Callable[[Connection], T]) -> T:
        """`work` in one transaction; a database error or outage is an `OutboxError`, which the
        workers log and try again after their poll, as with a locked SQLite file."""
        try:
            return await self.db.run(work)
        except psycopg.Error as exc:
            raise OutboxError(
                f"the outbox at {self.db.where} could not be used: {first_line(str(exc))}"
            ) from exc
        except DatabaseUnavailable as exc:
            raise OutboxError(str(exc)) from exc


def _claim(c: Connection, channel: str, at: datetime, instance: str) -> StoredMessage | None:
    row = c.execute(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = %(at)s, "
        "handoff_at = NULL, instance = %(me)s WHERE delivery_id = ("
        "  SELECT delivery_id FROM outbox"
        "  WHERE channel = %(ch)s AND status = 'queued' AND next_attempt_at <= %(at)s"
        "  ORDER BY next_attempt_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED)"
        f" AND status = 'queued' RETURNING {_COLUMNS}",
        {"at": at, "me": instance, "ch": channel},
    ).fetchone()
    if row is None:
        return None
    c.execute(
        "INSERT INTO outbox_attempts (delivery_id, attempt, started_at, instance) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (delivery_id, attempt) DO UPDATE SET started_at = excluded.started_at, "
        "handoff_at = NULL, ended_at = NULL, outcome = NULL, detail = NULL, instance = excluded.instance",
        (row[0], row[8], at, instance),
    )
    return _message(row)


def claim_sending(c: Connection, peer: str, resend: Collection[str], at: datetime) -> Recovery:
    """In a transaction: settle the messages a silent `peer` left `sending`, as its own
    restart would (`recover`): queued again when nothing had left it, or when it was being
    handed to a gateway of a channel in `resend` (the gateway drops a second copy with the
    same delivery id); else `in_doubt`, held for an operator (`ivr messages retry`)."""
    return _recover(c, frozenset(resend), utc(at), peer)


def _lost(delivery_id: str, attempt: int, instance: str) -> str:
    return (
        f"delivery {delivery_id} attempt {attempt} is no longer instance {instance!r}'s to send: "
        "a peer took it over while this instance was silent"
    )


def _recover(c: Connection, resend: frozenset[str], at: datetime, instance: str) -> Recovery:
    rows = c.execute(
        "SELECT delivery_id, channel, attempts, handoff_at FROM outbox WHERE status = 'sending' "
        "AND instance = %s ORDER BY seq FOR UPDATE",
        (instance,),
    ).fetchall()
    requeued: list[str] = []
    doubtful: list[str] = []
    for delivery_id, channel, attempt, handoff in rows:
        if handoff is None:
            status, outcome = "queued", "interrupted"
            detail = "the process stopped before the message left it"
        elif channel in resend:
            status, outcome = "queued", "interrupted"
            detail = "the process stopped while handing it over; resent with the same reference"
        else:
            status, outcome = "in_doubt", "in_doubt"
            detail = "the process stopped while handing it to the gateway: it may have been sent"
        (requeued if status == "queued" else doubtful).append(str(delivery_id))
        c.execute(
            "UPDATE outbox SET status = %s, next_attempt_at = %s, updated_at = %s, handoff_at = NULL, "
            "last_error = %s WHERE delivery_id = %s",
            (status, at, at, detail, delivery_id),
        )
        c.execute(
            "UPDATE outbox_attempts SET ended_at = %s, outcome = %s, detail = %s "
            "WHERE delivery_id = %s AND attempt = %s",
            (at, outcome, detail, delivery_id, attempt),
        )
    return Recovery(tuple(requeued), tuple(doubtful))


def _message(row: tuple[Any, ...]) -> StoredMessage:
    times = {6, 10, 11, 12}
    return message_from_row(tuple(utc(v) if i in times and v is not None else v for i, v in enumerate(row)))


def _time(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


def _text(value: str | None) -> str | None:
    return None if value is None else pg_text(value)


def _json(value: object | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=True, separators=(",", ":"))
