"""The `CallbackJournal` contract, met by the SQLite, PostgreSQL and memory journals alike:
a kept place is pending until a closing step, oldest first, with its calls counted; the
durable journals keep it across a reopen (a restart); on a shared database each instance
calls back only its own places, and a dead peer's are adopted once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from ivr.adapters.postgres.callbacks import PostgresCallbackJournal, open_postgres_callback_journal
from ivr.adapters.storage.callbacks import SqliteCallbackJournal
from ivr.runtime.ports import CallbackJournal, KeptPlace
from ivr.runtime.testing.callbacks import MemoryCallbackJournal

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def place(call_id: str, minutes: int, number: str = "13900000001") -> KeptPlace:
    return KeptPlace(call_id, "experts", ["research"], 5, number, T0 + timedelta(minutes=minutes), {"k": "v"})


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CallbackJournal]:
    if request.param == "memory":
        yield MemoryCallbackJournal()
    elif request.param == "sqlite":
        yield await SqliteCallbackJournal.open(tmp_path / "journal.sqlite3")
    else:
        async with open_postgres_callback_journal(request.getfixturevalue("postgres_url")) as opened:
            yield opened


async def test_kept_places_are_pending_oldest_first_with_their_fields(journal: CallbackJournal) -> None:
    await journal.keep(place("late", 5))
    await journal.keep(place("early", 1))
    pending = await journal.pending()
    assert [p.call_id for p in pending] == ["early", "late"]
    assert pending[0] == place("early", 1)


async def test_a_closing_step_ends_the_place_and_dialled_steps_count_calls(journal: CallbackJournal) -> None:
    for call_id in ("a", "b", "c", "d"):
        await journal.keep(place(call_id, 1))
    await journal.step("a", "dialled", T0, "a-cb1")
    await journal.step("a", "no_answer", T0)
    await journal.step("a", "dialled", T0, "a-cb2")
    await journal.step("b", "connected", T0)
    await journal.step("c", "hung_up", T0)
    await journal.step("d", "gave_up", T0)
    assert [(p.call_id, p.attempts) for p in await journal.pending()] == [("a", 2)]


async def test_the_sqlite_journal_keeps_places_across_a_reopen(tmp_path: Path) -> None:
    first = await SqliteCallbackJournal.open(tmp_path / "j.sqlite3")
    await first.keep(place("a", 1))
    await first.step("a", "accepted", T0)
    await first.step("a", "dialled", T0 + timedelta(minutes=2), "a-cb1")
    again = await SqliteCallbackJournal.open(tmp_path / "j.sqlite3")
    assert [(p.call_id, p.attempts, p.screen) for p in await again.pending()] == [("a", 1, {"k": "v"})]
    counts = await again.step_counts(T0, T0 + timedelta(hours=1))
    assert counts == {"accepted": 1, "dialled": 1}


async def test_the_postgres_journal_keeps_places_across_a_reopen(postgres_url: str) -> None:
    async with open_postgres_callback_journal(postgres_url, instance="a") as first:
        await first.keep(place("a", 1))
        await first.step("a", "accepted", T0)
        await first.step("a", "dialled", T0 + timedelta(minutes=2), "a-cb1")
    async with open_postgres_callback_journal(postgres_url, instance="a") as again:
        assert [(p.call_id, p.attempts, p.screen) for p in await again.pending()] == [("a", 1, {"k": "v"})]
        counts = await again.step_counts(T0, T0 + timedelta(hours=1))
        assert counts == {"accepted": 1, "dialled": 1}


async def test_on_a_shared_database_each_instance_calls_back_its_own_and_adopts_a_dead_peers_once(
    postgres_url: str,
) -> None:
    async with (
        open_postgres_callback_journal(postgres_url, instance="a") as a,
        open_postgres_callback_journal(postgres_url, instance="b") as b,
        open_postgres_callback_journal(postgres_url, instance="c") as c,
    ):
        await a.keep(place("on-a", 1))
        await b.keep(place("on-b", 2))
        await b.keep(place("done-b", 3))
        await b.step("done-b", "connected", T0)
        assert [p.call_id for p in await a.pending()] == ["on-a"]
        assert [p.call_id for p in await b.pending()] == ["on-b"]
        adopted: list[list[str]] = []

        async def adopt(journal: PostgresCallbackJournal) -> None:
            adopted.append(await journal.adopt("b"))

        async with trio.open_nursery() as nursery:  # b is dead; a and c notice together
            nursery.start_soon(adopt, a)
            nursery.start_soon(adopt, c)
        assert sorted(adopted) == [[], ["on-b"]]
        assert await b.pending() == []
        owners = {p.call_id for p in await a.pending()} | {p.call_id for p in await c.pending()}
        assert owners == {"on-a", "on-b"}
