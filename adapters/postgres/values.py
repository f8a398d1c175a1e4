"""How values meet PostgreSQL in the stores: times in UTC, text without what it refuses.

Place: shared by the PostgreSQL stores. Times are `timestamptz` (read back aware, in UTC:
every connection sets its time zone to UTC); a naive time is taken as UTC, as the SQLite
stores' text is. Details stay the tagged JSON text of `ivr.adapters.storage.codec`, so money
read back is still exact and both stores read the same. Text is compared and sorted byte
by byte (`COLLATE "C"`), as SQLite does, whatever the database's locale.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ivr.adapters.storage.codec import storable_text

BYTES = 'COLLATE "C"'


def utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def pg_text(text: str) -> str:
    """`text` as PostgreSQL takes it: no lone surrogate (as SQLite), no NUL character."""
    return storable_text(text).replace("\x00", "\ufffd")
