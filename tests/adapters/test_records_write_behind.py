"""Call events written behind (not waited for) keep each call's order and the durability of
its end: `ResilientRecords` over the SQLite store's ordered writes (`writer.py`).

A temporary trigger on the store's own write connection makes chosen lines fail the way a
medium does (an `OperationalError`) for as long as a switch is on, or be refused for good
(a constraint), so a failure hits one line while the lines queued after it would go
through.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio
import trio.testing
from trio.testing import MockClock

from ivr.adapters.hosting.resilient import ResilientRecords
from ivr.adapters.storage.records import SqliteCallRecords, open_sqlite_call_records
from ivr.runtime.ports import CallEvent

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@dataclass
class Medium:
    """Lines of kind `flaky` fail while `failing` is on; lines of kind `refused` always."""

    failing: bool = False
    failures: int = 0

    def check(self) -> int:
        if self.failing:
            self.failures += 1
            raise OSError("disk I/O error (injected)")
        return 0


@asynccontextmanager
async def resilient_store(
    tmp_path: Path,
) -> AsyncIterator[tuple[ResilientRecords, SqliteCallRecords, Medium]]:
    medium = Medium()
    async with open_sqlite_call_records(tmp_path / "calls.sqlite3") as store, trio.open_nursery() as nursery:
        conn: sqlite3.Connection = store.writer._conn

        def install() -> None:
            conn.create_function("medium_check", 0, medium.check)
            conn.execute(
                "CREATE TEMP TRIGGER flaky BEFORE INSERT ON events WHEN NEW.kind = 'flaky'"
                " BEGIN SELECT medium_check(); END"
            )
            conn.execute(
                "CREATE TEMP TRIGGER refused BEFORE INSERT ON events WHEN NEW.kind = 'refused'"
                " BEGIN SELECT RAISE(ABORT, 'refused (injected)'); END"
            )

        await trio.to_thread.run_sync(install)
        records = ResilientRecords(store, retry_every=0.05)
        await nursery.start(records.run)
        yield records, store, medium
        nursery.cancel_scope.cancel()


def event(call_id: str, kind: str, i: int) -> CallEvent:
    return CallEvent(call_id, kind, T0 + timedelta(seconds=i), None, {"i": i})


async def kinds(store: SqliteCallRecords, call_id: str) -> list[str]:
    return [e.kind for e in await store.events(call_id)]


async def test_a_line_that_fails_holds_the_lines_queued_after_it_so_the_call_keeps_its_order(
    tmp_path: Path,
) -> None:
    async with resilient_store(tmp_path) as (records, store, medium):
        await records.call_started("c1", flow="main", caller="1", dialed="95500", at=T0)
        medium.failing = True
        # none of these waits for its commit: the second fails, the third would go through
        await records.call_event(event("c1", "before", 1))
        await records.call_event(event("c1", "flaky", 2))
        await records.call_event(event("c1", "after", 3))
        await records.call_ended("c1", how="completed", at=T0 + timedelta(seconds=4))
        assert medium.failures >= 1
        assert records.down  # kept in memory: new calls are refused
        assert (await store.get_call("c1")).ended_at is None  # type: ignore[union-attr]
        medium.failing = False
        with trio.fail_after(10):
            await records.drained()
        assert await kinds(store, "c1") == ["before", "flaky", "after"]
        assert (await store.get_call("c1")).how == "completed"  # type: ignore[union-attr]
        assert records.backlog == 0 and records.lost == 0 and not store.writer.held


async def test_the_end_of_a_call_returns_only_once_every_line_before_it_is_committed(
    tmp_path: Path,
) -> None:
    async with resilient_store(tmp_path) as (records, store, _):
        calls = [f"c{n}" for n in range(20)]

        async def one_call(call_id: str) -> None:
            await records.call_started(call_id, flow="main", caller="1", dialed="95500", at=T0)
            for i in range(5):
                await records.call_event(event(call_id, f"step{i}", i))
            await records.call_ended(call_id, how="completed", at=T0 + timedelta(seconds=6))
            # read at once from the store's other connection: everything is on disk
            assert await kinds(store, call_id) == [f"step{i}" for i in range(5)]
            assert (await store.get_call(call_id)).how == "completed"  # type: ignore[union-attr]

        async with trio.open_nursery() as nursery:
            for call_id in calls:
                nursery.start_soon(one_call, call_id)
        assert not records.down


async def test_while_lines_are_kept_the_end_of_a_call_is_kept_behind_them(tmp_path: Path) -> None:
    async with resilient_store(tmp_path) as (records, store, medium):
        for call_id in ("a", "b"):
            await records.call_started(call_id, flow="main", caller="1", dialed="95500", at=T0)
        medium.failing = True
        await records.call_event(event("a", "flaky", 1))
        await records.call_event(event("b", "plain", 1))  # another call, queued behind a's line
        await records.call_ended("b", how="completed", at=T0 + timedelta(seconds=2))
        # b's end returned without being on disk: it waits behind a's line, in memory
        assert records.down and records.backlog == 3
        assert (await store.get_call("b")).ended_at is None  # type: ignore[union-attr]
        medium.failing = False
        with trio.fail_after(10):
            await records.drained()
        assert await kinds(store, "a") == ["flaky"] and await kinds(store, "b") == ["plain"]
        # the store takes lines directly again, without waiting for them
        await records.call_event(event("a", "later", 2))
        await records.call_ended("a", how="completed", at=T0 + timedelta(seconds=3))
        assert await kinds(store, "a") == ["flaky", "later"] and not records.down


async def test_a_line_the_store_refuses_for_good_is_dropped_and_counted_without_holding_others(
    tmp_path: Path,
) -> None:
    async with resilient_store(tmp_path) as (records, store, _):
        await records.call_started("c1", flow="main", caller="1", dialed="95500", at=T0)
        await records.call_event(event("c1", "refused", 1))
        await records.call_event(event("c1", "after", 2))
        await records.call_ended("c1", how="completed", at=T0 + timedelta(seconds=3))
        assert records.lost == 1 and not records.down and not store.writer.held
        assert await kinds(store, "c1") == ["after"]


async def test_lines_written_behind_share_a_commit_and_an_end_does_not_wait_for_more(
    tmp_path: Path, mock_clock: MockClock
) -> None:
    """The clock never moves here: lines written behind wait (`EVENT_LINGER`) for others to
    share their commit, and the call's end, which its caller waits for, ends that wait."""
    async with resilient_store(tmp_path) as (records, store, _):
        await records.call_started("c1", flow="main", caller="1", dialed="95500", at=T0)
        before = store.writer.batches
        for i in range(20):
            await records.call_event(event("c1", f"step{i}", i))
            await trio.testing.wait_all_tasks_blocked()  # the writer is idle: it would commit now
        ended = trio.Event()

        async def end() -> None:
            await records.call_ended("c1", how="completed", at=T0 + timedelta(seconds=21))
            ended.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(end)
            await trio.testing.wait_all_tasks_blocked(cushion=0.5)  # real seconds: only a hang waits
            assert ended.is_set()
        assert store.writer.batches - before == 1  # twenty lines and the end: one commit
        assert await kinds(store, "c1") == [f"step{i}" for i in range(20)]
