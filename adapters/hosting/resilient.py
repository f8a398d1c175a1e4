"""`ResilientRecords`: call records that outlive a full or read-only records disk.

Place: between `TappedRecords` (the live view) and the SQLite store in the hosted runtime.
When the store refuses a write for a reason of its medium (SQLite's "database or disk is
full", "attempt to write a readonly database", "database is locked", an I/O error), the
write is kept, in order, in a bounded in-memory backlog, and so is every later write until
the backlog drains: a call never stops because the disk did, and its record lines keep
their order. A background task (`run`) retries the oldest line every `retry_every` seconds;
once the medium takes writes again the backlog drains and every record is complete.

While lines wait (`down`), the server refuses new calls (503): what it holds only in
memory a crash would lose, so it takes on no more. A write the store refuses for any other
reason (a duplicate call id: a bug) is raised to the caller as before. Past `limit` lines
the newest are dropped and counted in `lost`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import psycopg
import trio

from ivr.adapters.postgres.database import DatabaseUnavailable
from ivr.runtime.ports import CallChannel, CallEnding, CallEvent, Recording

if TYPE_CHECKING:
    from ivr.adapters.hosting.live import StampedRecords

log = logging.getLogger(__name__)
Write = Callable[[], Awaitable[None]]
_MEDIUM_FAILURES = (sqlite3.OperationalError, OSError, psycopg.OperationalError, DatabaseUnavailable)


def medium_failure(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) is SQLite failing for its file or disk, or
    PostgreSQL out of reach: worth retrying later, unlike a constraint violation."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _MEDIUM_FAILURES):
            return True
        seen = seen.__cause__
    return False


class ResilientRecords:
    """A `CallRecords` in front of `store` that holds writes back while the store's medium
    fails; run `run()` in a nursery for the retries."""

    def __init__(self, store: StampedRecords, *, retry_every: float = 1.0, limit: int = 200_000) -> None:
        self.store = store
        self.retry_every = retry_every
        self.limit = limit
        self.lost = 0
        self._backlog: deque[tuple[str, Write]] = deque()
        self._wake = trio.Event()
        self._empty = trio.Event()  # set each time the backlog drains

    @property
    def down(self) -> bool:
        """Lines are waiting for the store."""
        return bool(self._backlog)

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    async def drained(self) -> None:
        """Return once no line is waiting (at once if none is)."""
        while self._backlog:
            await self._empty.wait()

    # -- CallRecords ------------------------------------------------------------------------
    async def call_started(
        self,
        call_id: str,
        *,
        flow: str,
        caller: str,
        dialed: str,
        at: datetime,
        tenant: str = "",
        version: str = "",
        channel: CallChannel = "phone",
    ) -> None:
        store = self.store
        await self._write(
            f"start of {call_id}",
            lambda: store.call_started(
                call_id,
                flow=flow,
                caller=caller,
                dialed=dialed,
                at=at,
                tenant=tenant,
                version=version,
                channel=channel,
            ),
        )

    async def call_event(self, event: CallEvent) -> None:
        store = self.store
        await self._write(f"{event.kind} of {event.call_id}", lambda: store.call_event(event))

    async def call_ended(self, call_id: str, *, how: CallEnding, at: datetime) -> None:
        store = self.store
        await self._write(f"end of {call_id}", lambda: store.call_ended(call_id, how=how, at=at))

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None:
        store = self.store
        await self._write(
            f"recording of {call_id}", lambda: store.store_recording(call_id, recording, metadata)
        )

    # -- the backlog ------------------------------------------------------------------------
    async def _write(self, what: str, write: Write) -> None:
        if self._backlog:  # behind the lines already waiting, so each call keeps its order
            self._hold(what, write)
            return
        try:
            await write()
        except Exception as exc:
            if not medium_failure(exc):
                raise
            log.error("call records cannot be written (%s): keeping them in memory, refusing new calls", exc)
            self._hold(what, write)

    def _hold(self, what: str, write: Write) -> None:
        if len(self._backlog) >= self.limit:
            self.lost += 1
            log.error("call records backlog full (%d lines): dropped the %s", self.limit, what)
            return
        self._backlog.append((what, write))
        self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Retry waiting lines, oldest first, until cancelled."""
        task_status.started()
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._backlog:
                if not await self._try_oldest():
                    await trio.sleep(self.retry_every)
            log.warning("call records written again: the backlog is empty")
            self._empty.set()
            self._empty = trio.Event()

    async def _try_oldest(self) -> bool:
        what, write = self._backlog[0]
        try:
            await write()
        except Exception as exc:
            if medium_failure(exc):
                return False
            log.error("call records: dropped the %s, which the store refuses: %s", what, exc)
            self.lost += 1
        self._backlog.popleft()
        return True
