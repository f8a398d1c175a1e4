"""A small pool of blocking database connections used from trio through worker threads.

Place: under the SQL backend. Each piece of work borrows one connection and runs in
`trio.to_thread.run_sync`. The work is *abandoned* on cancellation so that an operation's
timeout takes effect at once: the pool then interrupts the running statement (sqlite3's
`interrupt()`, psycopg's `cancel()`) and the worker thread closes that connection when it
finishes, so an abandoned connection is never handed out again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import trio

C = TypeVar("C")
T = TypeVar("T")


class ConnectionPool(Generic[C]):
    """At most `size` connections in use at once; idle ones are kept for reuse."""

    def __init__(
        self,
        connect: Callable[[], C],
        *,
        interrupt: Callable[[C], None],
        close: Callable[[C], None],
        size: int = 4,
    ) -> None:
        self._connect = connect
        self._interrupt = interrupt
        self._close = close
        self._slots = trio.Semaphore(size)
        self._idle: list[C] = []

    async def run(self, work: Callable[[C], T]) -> T:
        """Run `work(connection)` in a worker thread. `work` must leave no transaction open."""
        async with self._slots:
            lease = _Lease(self._idle.pop() if self._idle else None, self._connect, self._close)
            try:
                result = await trio.to_thread.run_sync(lease.run, work, abandon_on_cancel=True)
            except trio.Cancelled:
                lease.abandon(self._interrupt)
                raise
            except BaseException:
                # After an error the connection's state is unknown (psycopg may be broken).
                await lease.discard()
                raise
            self._idle.append(lease.connection)
            return result

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        await trio.to_thread.run_sync(lambda: [self._close(c) for c in idle])


class _Lease(Generic[C]):
    """One connection handed to one worker thread, and who closes it if trio walks away."""

    def __init__(self, connection: C | None, connect: Callable[[], C], close: Callable[[C], None]) -> None:
        self._connection = connection
        self._connect = connect
        self._close = close
        self._lock = threading.Lock()
        self._finished = False
        self._abandoned = False

    @property
    def connection(self) -> C:
        assert self._connection is not None
        return self._connection

    def run(self, work: Callable[[C], T]) -> T:
        """In the worker thread: connect if needed, work, then close if abandoned meanwhile."""
        try:
            if self._connection is None:
                self._connection = self._connect()
            return work(self._connection)
        finally:
            with self._lock:
                self._finished = True
                abandoned = self._abandoned
            if abandoned and self._connection is not None:
                self._close(self._connection)

    def abandon(self, interrupt: Callable[[C], None]) -> None:
        """In the trio thread, on cancellation: stop the statement; never reuse the connection."""
        with self._lock:
            if not self._finished:
                self._abandoned = True  # the worker closes it when the statement returns
                if self._connection is not None:
                    _quietly(interrupt, self._connection)
                return
        if self._connection is not None:
            _quietly(self._close, self._connection)

    async def discard(self) -> None:
        if self._connection is not None:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(_quietly, self._close, self._connection)


def _quietly(action: Callable[[C], None], connection: C) -> None:
    with contextlib.suppress(Exception):  # best effort: the connection is being thrown away
        action(connection)
