"""Group commit on PostgreSQL: many small writes of concurrent calls, one transaction.

Place: under `records.py`, as `ivr.adapters.storage.writer` is under the SQLite store. A
caller submits a write and waits; the writer task takes everything queued (up to
`max_batch`), applies it in one transaction on one pooled connection (`Database.run`, a
worker thread) and commits once, then wakes every caller of the batch. A caller returns
only after its write is committed, and the calls of a busy server share one commit (one
WAL flush, one round trip for COMMIT) instead of paying one each: `benchmarks/
records_write_postgres.py`. If a batch fails, its writes are retried one by one, each in
its own transaction, so only the bad one reports an error (a server out of reach fails
them all, each with the reason).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, TypeVar

import trio

from ivr.adapters.postgres.database import Connection, Database

T = TypeVar("T")


@dataclass
class _Write(Generic[T]):
    apply: Callable[[Connection], T]
    done: trio.Event = field(default_factory=trio.Event)
    result: T | None = None
    error: Exception | None = None


class GroupCommit:
    """Run `serve()` in a nursery, then `submit()` from any task; `close()` drains."""

    def __init__(self, db: Database, *, max_batch: int = 256, queue: int = 4096) -> None:
        self._db = db
        self._max_batch = max_batch
        self._send, self._receive = trio.open_memory_channel[_Write[object]](queue)
        self.batches = 0

    async def submit(self, apply: Callable[[Connection], T]) -> T:
        """Queue a write and wait until it is committed: its result, or the error that
        rolled it back (raised as is)."""
        write: _Write[T] = _Write(apply)
        await self._send.send(write)  # type: ignore[arg-type]
        await write.done.wait()
        if write.error is not None:
            raise write.error
        return write.result  # type: ignore[return-value]

    async def serve(self) -> None:
        """Commit batches until `close()`; every queued write is committed before returning."""
        async with self._receive:
            async for first in self._receive:
                batch = [first, *self._more()]
                try:
                    await self._db.run(partial(_apply_all, batch=batch))
                except Exception:
                    for write in batch:  # each alone: only the bad one fails
                        await self._alone(write)
                self.batches += 1
                for write in batch:
                    write.done.set()

    async def close(self) -> None:
        await self._send.aclose()

    def _more(self) -> list[_Write[object]]:
        more: list[_Write[object]] = []
        while len(more) + 1 < self._max_batch:
            try:
                more.append(self._receive.receive_nowait())
            except trio.WouldBlock:
                break
        return more

    async def _alone(self, write: _Write[object]) -> None:
        write.result, write.error = None, None
        try:
            write.result = await self._db.run(write.apply)
        except Exception as exc:
            write.error = exc


def _apply_all(conn: Connection, *, batch: list[_Write[object]]) -> None:  # in the worker thread
    with conn.pipeline():  # the statements go out together, not one round trip each
        for write in batch:
            write.result = write.apply(conn)
