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
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from ivr.adapters.errors import AdapterError

Apply = Callable[[sqlite3.Connection], object]


class WriteFailed(AdapterError):
    """A submitted write was rolled back; `__cause__` holds the database's reason."""


@dataclass
class _Write:
    apply: Apply
    done: trio.Event = field(default_factory=trio.Event)
    result: object = None
    error: Exception | None = None


class BatchWriter:
    """Owns `conn` for writing; run `serve()` in a nursery, then `submit()` from any task."""

    def __init__(self, conn: sqlite3.Connection, *, max_batch: int = 256, queue: int = 4096) -> None:
        self._conn = conn
        self._max_batch = max_batch
        self._send, self._receive = trio.open_memory_channel[_Write](queue)
        self.batches = 0

    async def submit(self, apply: Apply) -> object:
        """Queue a write and wait until it is committed; its result, or `WriteFailed`."""
        write = _Write(apply)
        await self._send.send(write)
        await write.done.wait()
        if write.error is not None:
            raise WriteFailed(str(write.error)) from write.error
        return write.result

    async def serve(self) -> None:
        """Drain the queue until `close()`; every queued write is committed before returning."""
        thread = _CommitThread(self._commit)
        try:
            async with self._receive:
                async for first in self._receive:
                    batch = [first, *self._more()]
                    # Not abandoned on cancel: a transaction is never left half-applied.
                    await thread.run(batch)
                    self.batches += 1
                    for write in batch:
                        write.done.set()
        finally:
            thread.stop()

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

    def _commit(self, batch: list[_Write]) -> None:
        try:
            self._transaction(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for write in batch:
                    self._commit([write])

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
