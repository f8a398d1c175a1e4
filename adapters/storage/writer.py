"""Group commit: one writer task owns the SQLite connection; callers wait for durability.

Place: under `records.py`. A caller submits a small write and waits; the writer task takes
everything queued (up to `max_batch`), applies it in one transaction in the writer's own
thread and commits once, then wakes every caller of the batch. A caller therefore returns only after
its write is on disk, and many concurrent calls share one fsync instead of paying one each
(see `benchmarks/records_write.py`). If a batch fails, its writes are retried one by one so
that only the bad one reports an error.

The thread is the writer's own for its whole life, not one borrowed from trio's thread
cache per batch: a batch then costs one hand-over each way and nothing else, and no batch
ever waits for a worker thread to be started.

Ordered writes (for `ivr.adapters.hosting.resilient`, which keeps a call's record lines in
order while the disk fails): `submit_behind` queues a write without waiting for it, and
`submit(..., hold_if=...)` is a waited one in the same order. When an ordered write fails
and its owner keeps it (`on_failure`/`hold_if` says True), the writer *holds*: every later
ordered write is not applied but fails with `HeldBehind` (handed to its `on_failure`, or
raised to its waiter), in queue order, until the owner has written the kept lines again
and calls `release()`. So a write that was committed never overtakes an earlier ordered
one that failed, and a waited write returning means every ordered write queued before it
is committed (or was handed back to the owner). Plain `submit` writes ignore the hold.
With `linger`, a batch that begins with a write nobody waits for waits that long for more
lines (fewer commits), unless a waited write is queued meanwhile: it never waits for that.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from ivr.adapters.errors import AdapterError
from ivr.adapters.threadname import name_os_thread

Apply = Callable[[sqlite3.Connection], object]
log = logging.getLogger(__name__)


Keep = Callable[[Exception], bool]  # an ordered write failed with this: True = the owner keeps it


class WriteFailed(AdapterError):
    """A submitted write was rolled back; `__cause__` holds the database's reason."""


class HeldBehind(WriteFailed):
    """An ordered write was not applied: an earlier ordered write failed and is being kept
    by the writer's owner (see the module's docstring). Worth retrying, like the medium's
    own failures."""


@dataclass(eq=False)
class _Write:
    apply: Apply
    done: trio.Event | None = None  # None: nobody waits (submit_behind)
    keep: Keep | None = None  # ordered writes only
    result: object = None
    error: Exception | None = None

    def failed(self, error: Exception) -> bool:
        """Note the failure; True when the owner keeps the write (the writer then holds)."""
        self.error = error
        if self.keep is None:
            return False
        try:
            return self.keep(error)
        except Exception:  # the owner's callback must not stop the writer
            log.exception("the owner of a failed write could not take it back")
            return False

    def finish(self) -> None:
        if self.done is not None:
            self.done.set()


class BatchWriter:
    """Owns `conn` for writing; run `serve()` in a nursery, then `submit()` from any task."""

    def __init__(
        self, conn: sqlite3.Connection, *, max_batch: int = 256, queue: int = 4096, linger: float = 0.0
    ) -> None:
        self._conn = conn
        self._max_batch = max_batch
        self._linger = linger
        self._send, self._receive = trio.open_memory_channel[_Write](queue)
        self.batches = 0
        self._held: Exception | None = None  # the failure an ordered write is held behind
        self._waited = 0  # waited writes queued and not yet taken into a batch
        self._urgent = trio.Event()  # set when a waited write is queued

    @property
    def held(self) -> bool:
        """Ordered writes are held behind a failed one (until `release()`)."""
        return self._held is not None

    async def submit(self, apply: Apply, *, hold_if: Keep | None = None) -> object:
        """Queue a write and wait until it is committed; its result, or `WriteFailed`.
        With `hold_if` the write is ordered: `HeldBehind` while the writer holds, and a
        failure for which `hold_if` is True makes the writer hold."""
        write = _Write(apply, trio.Event(), hold_if)
        self._waited += 1
        try:
            await self._send.send(write)
        except BaseException:
            self._waited -= 1
            raise
        self._urgent.set()
        assert write.done is not None
        await write.done.wait()
        if isinstance(write.error, HeldBehind):
            raise write.error
        if write.error is not None:
            raise WriteFailed(str(write.error)) from write.error
        return write.result

    async def submit_behind(self, apply: Apply, *, on_failure: Keep) -> None:
        """Queue an ordered write and return without waiting for it (only while the queue
        is full). If it fails, or is held behind an earlier failure, `on_failure` gets the
        error in trio, in queue order; True keeps the writer holding."""
        write = _Write(apply, None, on_failure)
        try:
            self._send.send_nowait(write)
        except trio.WouldBlock:
            await self._send.send(write)

    def release(self) -> None:
        """The owner has written again what it kept: apply ordered writes again."""
        self._held = None

    async def serve(self) -> None:
        """Drain the queue until `close()`; every queued write is committed before returning."""
        thread = _CommitThread(self._commit)
        try:
            async with self._receive:
                async for first in self._receive:
                    await self._linger_for(first)
                    batch = [first, *self._more()]
                    self._waited -= sum(1 for write in batch if write.done is not None)
                    # Not abandoned on cancel: a transaction is never left half-applied.
                    await self._apply(batch, thread)
                    self.batches += 1
        finally:
            thread.stop()

    async def _linger_for(self, first: _Write) -> None:
        """A batch that starts with a write nobody waits for waits up to `linger` for more
        (one commit for many lines), and no longer than until a waited write is queued."""
        if first.done is not None or self._linger <= 0 or self._waited:
            return
        self._urgent = trio.Event()
        with trio.move_on_after(self._linger):
            await self._urgent.wait()

    async def _apply(self, batch: list[_Write], thread: _CommitThread) -> None:
        """Commit `batch` in one transaction; if that fails, write by write in order, so
        that only the bad write fails and a hold it starts applies to the writes after it."""
        pending = [write for write in batch if not self._held_back(write)]
        if pending:
            await thread.run(pending)
            if any(write.error is not None for write in pending) and len(pending) > 1:
                for write in pending:
                    write.error = None
                    if not self._held_back(write):
                        await thread.run([write])
                        self._settle(write)
            elif len(pending) == 1:
                self._settle(pending[0])
        for write in batch:
            write.finish()

    def _held_back(self, write: _Write) -> bool:
        """While the writer holds, an ordered write fails at once with `HeldBehind`."""
        if self._held is None or write.keep is None:
            return False
        held = HeldBehind(f"held behind an earlier record line that failed: {self._held}")
        held.__cause__ = self._held
        write.failed(held)
        return True

    def _settle(self, write: _Write) -> None:
        if write.error is not None and write.failed(write.error):
            self._held = write.error

    async def close(self) -> None:
        await self._send.aclose()

    def _more(self) -> list[_Write]:
        more: list[_Write] = []
        while len(more) + 1 < self._max_batch:
            try:
                more.append(self._receive.receive_nowait())
            except trio.WouldBlock:
                break
        return more

    def _commit(self, batch: list[_Write]) -> None:  # in the commit thread
        try:
            self._transaction(batch)
        except Exception as exc:
            for write in batch:
                write.error = exc

    def _transaction(self, batch: list[_Write]) -> None:  # in the commit thread
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for write in batch:
                write.result = write.apply(self._conn)
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise


class _CommitThread:
    """One long-lived thread that runs `commit(batch)` for the writer task, one at a time."""

    def __init__(self, commit: Callable[[list[_Write]], None]) -> None:
        self._commit = commit
        self._token = trio.lowlevel.current_trio_token()
        self._jobs: queue.SimpleQueue[tuple[list[_Write], _Done] | None] = queue.SimpleQueue()
        threading.Thread(target=self._work, name="ivr-records-writer", daemon=True).start()

    async def run(self, batch: list[_Write]) -> None:
        """Commit `batch` in the thread; waits for it to finish even when cancelled."""
        done = _Done()
        self._jobs.put((batch, done))
        with trio.CancelScope(shield=True):
            await done.event.wait()
        if done.error is not None:
            raise done.error

    def stop(self) -> None:
        self._jobs.put(None)

    def _work(self) -> None:
        name_os_thread("ivr-records")
        while (job := self._jobs.get()) is not None:
            batch, done = job
            try:
                self._commit(batch)
            except BaseException as exc:  # handed to the writer task, as trio.to_thread would
                done.error = exc
            try:
                self._token.run_sync_soon(done.event.set)
            except trio.RunFinishedError:
                return


@dataclass
class _Done:
    event: trio.Event = field(default_factory=trio.Event)
    error: BaseException | None = None
