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

With a store that offers ordered writes (SQLite's `ordered()`, see
`ivr.adapters.storage.writer`), a `call_event` does not wait for its commit: the store
hands a line that failed back (`_kept`) in queue order and holds every later line behind
it, so the backlog keeps each call's order as before, and `call_ended` still returns only
once everything the call wrote is committed or kept here. A line handed back for a reason
that is not the medium's is logged and counted in `lost` (nobody waits to be told).
"""

from __future__ import annotations

import logging
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import psycopg
import trio

from ivr.adapters.postgres.database import DatabaseUnavailable
from ivr.adapters.storage.writer import HeldBehind, Keep
from ivr.runtime.ports import CallChannel, CallEnding, CallEvent, Recording

if TYPE_CHECKING:
    from ivr.adapters.hosting.live import StampedRecords

log = logging.getLogger(__name__)
Write = Callable[[], Awaitable[None]]
_MEDIUM_FAILURES = (
    sqlite3.OperationalError,
    OSError,
    psycopg.OperationalError,
    DatabaseUnavailable,
    HeldBehind,
)


class OrderedLines(Protocol):
    """A store's writes in one held order (`SqliteCallRecords.ordered`)."""

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
    ) -> None: ...

    async def call_event(self, event: CallEvent, *, on_failure: Keep) -> None: ...

    async def call_ended(self, call_id: str, *, how: CallEnding, at: datetime) -> None: ...

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None: ...

    def release(self) -> None: ...


@runtime_checkable
class OrdersWrites(Protocol):
    def ordered(self, hold_if: Keep) -> OrderedLines: ...


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
        # checked once here: an isinstance against a Protocol is slow on every write
        self._lines = store.ordered(medium_failure) if isinstance(store, OrdersWrites) else None

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
        first = self._lines or store
        await self._write(
            f"start of {call_id}",
            lambda: first.call_started(
                call_id,
                flow=flow,
                caller=caller,
                dialed=dialed,
                at=at,
                tenant=tenant,
                version=version,
                channel=channel,
            ),
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
        store, what = self.store, f"{event.kind} of {event.call_id}"
        again: Write = lambda: store.call_event(event)  # noqa: E731
        if self._lines is None or self._backlog:
            await self._write(what, again)
        else:
            await self._lines.call_event(event, on_failure=lambda exc: self._kept(what, again, exc))

    async def call_ended(self, call_id: str, *, how: CallEnding, at: datetime) -> None:
        store = self.store
        first = self._lines or store
        await self._write(
            f"end of {call_id}",
            lambda: first.call_ended(call_id, how=how, at=at),
            lambda: store.call_ended(call_id, how=how, at=at),
        )

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None:
        store = self.store
        first = self._lines or store
        await self._write(
            f"recording of {call_id}",
            lambda: first.store_recording(call_id, recording, metadata),
            lambda: store.store_recording(call_id, recording, metadata),
        )

    # -- the backlog ------------------------------------------------------------------------
    async def _write(self, what: str, write: Write, again: Write | None = None) -> None:
        """`write` the line now; kept, in order, as `again` (the store's own write, outside
        any hold) when the medium fails or lines are already waiting."""
        again = again or write
        if self._backlog:  # behind the lines already waiting, so each call keeps its order
            self._hold(what, again)
            return
        try:
            await write()
        except Exception as exc:
            if not medium_failure(exc):
                raise
            self._log_down(exc)
            self._hold(what, again)

    def _kept(self, what: str, again: Write, exc: Exception) -> bool:
        """An ordered line that did not wait failed (in trio, in queue order): keep it
        (True: the store holds the lines after it) or, refused for good, count it lost."""
        if medium_failure(exc):
            self._log_down(exc)
            self._hold(what, again)
            return True
        log.error("call records: dropped the %s, which the store refuses: %s", what, exc)
        self.lost += 1
        return False

    def _log_down(self, exc: Exception) -> None:
        if not self._backlog and not isinstance(exc.__cause__, HeldBehind):
            log.error("call records cannot be written (%s): keeping them in memory, refusing new calls", exc)

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
            if self._lines is not None:
                self._lines.release()  # every line held behind the failure went through here
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
