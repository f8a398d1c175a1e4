"""The two durable call-record stores, SQLite and PostgreSQL, beyond the port's contract:
the same assertions on both (reopening, recovery by instance, reads for reports and /calls,
usage, errors), plus what only a shared database has (several instances on one store)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import trio

from ivr.adapters.postgres.migrations import LOCK_KEY
from ivr.adapters.postgres.records import PostgresCallRecords, open_postgres_call_records
from ivr.adapters.storage import RecordsError, SchemaError, SqliteCallRecords, open_sqlite_call_records
from ivr.runtime.ports import CallEvent, Recording

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
Store = SqliteCallRecords | PostgresCallRecords
Opener = Callable[..., AbstractAsyncContextManager[Store]]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest) -> Opener:
    """Opens the store of this test (the same file or database every time), as an instance."""
    if request.param == "sqlite":
        path: Path = request.getfixturevalue("tmp_path") / "calls.sqlite3"

        @asynccontextmanager
        async def sqlite(instance: str = "") -> AsyncIterator[Store]:
            async with open_sqlite_call_records(path, instance=instance) as store:
                yield store

        return sqlite
    url: str = request.getfixturevalue("postgres_url")

    @asynccontextmanager
    async def postgres(instance: str = "") -> AsyncIterator[Store]:
        async with open_postgres_call_records(url, instance=instance) as store:
            yield store

    return postgres


async def start(store: Store, call_id: str, *, flow: str = "main", at: datetime = T0) -> None:
    await store.call_started(call_id, flow=flow, caller="13800138000", dialed="95500", at=at, tenant="acme")


async def test_records_survive_reopening_exactly(open_store: Opener) -> None:
    async with open_store() as store:
        await store.call_started(
            "c1", flow="main", caller="1", dialed="95500", at=T0, tenant="t", version="v3"
        )
        await store.call_event(CallEvent("c1", "operation", T0, "buy", {"amount": Decimal("10.01")}))
        await store.call_ended("c1", how="completed", at=T0 + timedelta(seconds=3))
    async with open_store() as store:
        call = await store.get_call("c1")
        assert call is not None
        assert (call.how, call.ended_at, call.tenant, call.version) == (
            "completed",
            T0 + timedelta(seconds=3),
            "t",
            "v3",
        )
        assert call.started_at == T0
        assert (await store.events("c1"))[0].detail == {"amount": Decimal("10.01")}
        assert store.recovered_at_open == []


async def test_a_call_left_open_by_this_instance_is_interrupted_at_reopening(open_store: Opener) -> None:
    async with open_store("a") as store:
        await start(store, "c1")
        await store.call_event(CallEvent("c1", "input", T0 + timedelta(seconds=9), "menu"))
    async with open_store("a") as store:
        assert store.recovered_at_open == ["c1"]
        call = await store.get_call("c1")
        assert call is not None and call.how == "interrupted"
        assert call.ended_at == T0 + timedelta(seconds=9)
        assert [e.kind for e in await store.events("c1")] == ["input", "call_interrupted"]


async def test_recovering_an_instance_closes_only_its_calls(open_store: Opener) -> None:
    async with open_store("a") as store:
        await start(store, "mine")
        assert await store.instance_of("mine") == "a"
        assert await store.instance_of("nobody") is None
        assert await store.recover_instance("b") == []
        assert (await store.get_call("mine")).how is None  # type: ignore[union-attr]
        assert await store.recover_instance("a") == ["mine"]
        assert await store.recover_instance("a") == []
        assert (await store.get_call("mine")).how == "interrupted"  # type: ignore[union-attr]


async def test_a_second_end_does_not_overwrite_the_first(open_store: Opener) -> None:
    async with open_store() as store:
        await start(store, "c1")
        await store.call_ended("c1", how="transferred", at=T0)
        await store.call_ended("c1", how="hangup", at=T0 + timedelta(seconds=1))
        call = await store.get_call("c1")
        assert call is not None and call.how == "transferred"


async def test_a_bad_write_fails_alone_with_a_message_naming_the_call(open_store: Opener) -> None:
    async with open_store() as store:
        await start(store, "dup")
        outcomes: dict[str, str] = {}

        async def begin(call_id: str) -> None:
            try:
                await start(store, call_id)
                outcomes[call_id] = "ok"
            except RecordsError as exc:
                outcomes[call_id] = str(exc)

        async with trio.open_nursery() as nursery:
            for call_id in ("a", "dup", "b"):
                nursery.start_soon(begin, call_id)
        assert outcomes["a"] == outcomes["b"] == "ok"
        assert "could not record call 'dup' started" in outcomes["dup"]
        with pytest.raises(RecordsError, match="no call 'ghost' was started"):
            await store.call_ended("ghost", how="hangup", at=T0)


async def test_concurrent_writes_share_commits(open_store: Opener) -> None:
    async with open_store() as store:
        await start(store, "c1")
        before = store.writer.batches
        async with trio.open_nursery() as nursery:
            for i in range(200):
                nursery.start_soon(store.call_event, CallEvent("c1", "log", T0, None, {"i": i}))
        assert store.writer.batches - before < 200
        assert sorted(e.detail["i"] for e in await store.events("c1")) == list(range(200))  # type: ignore[type-var]


async def test_list_calls_filters_newest_first(open_store: Opener) -> None:
    async with open_store() as store:
        for i, flow in enumerate(["main", "orders", "main"]):
            await start(store, f"c{i}", flow=flow, at=T0 + timedelta(hours=i))
        await store.call_ended("c0", how="completed", at=T0)
        assert [c.call_id for c in await store.list_calls()] == ["c2", "c1", "c0"]
        assert [c.call_id for c in await store.list_calls(flow="main")] == ["c2", "c0"]
        assert [c.call_id for c in await store.list_calls(how="completed")] == ["c0"]
        window = await store.list_calls(since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=2))
        assert [c.call_id for c in window] == ["c1"]
        assert [c.call_id for c in await store.list_calls(limit=1)] == ["c2"]
        assert await store.list_calls(tenant="other") == []


async def test_recordings_are_found_by_call_by_id_and_by_order_number(open_store: Opener) -> None:
    async with open_store() as store:
        for call_id in ("c1", "c2"):
            await start(store, call_id)
        talk = Recording("c1-agent-8001", Decimal("42.5"), "/rec/c1.wav", "hangup")
        await store.store_recording("c1", talk, {"kind": "agent", "orders": ["O-7", "O-8"]})
        other = Recording("c2-agent-8002", Decimal("3"), "/rec/c2.wav", "hangup")
        await store.store_recording("c2", other, {"kind": "agent", "orders": ["O-77"], "note": "O-8"})
        [found] = await store.order_recordings("O-8")
        assert (found.call_id, found.recording) == ("c1", talk)
        assert [r.call_id for r in await store.order_recordings("O-77")] == ["c2"]
        assert await store.order_recordings("O-") == []
        assert [r.recording for r in await store.recordings("c2")] == [other]
        stored = await store.recording("c1-agent-8001")
        assert stored is not None and stored.metadata == {"kind": "agent", "orders": ["O-7", "O-8"]}
        assert await store.recording("none") is None


async def test_usage_inputs_add_talk_time_sessions_and_recordings(open_store: Opener) -> None:
    async with open_store("a") as store:
        await start(store, "c1")
        await store.call_event(CallEvent("c1", "agent_connected", T0 + timedelta(seconds=10), None))
        await store.call_event(CallEvent("c1", "agent_call_ended", T0 + timedelta(seconds=70), None))
        await store.call_ended("c1", how="completed", at=T0 + timedelta(seconds=80))
        await store.store_recording("c1", Recording("r1", Decimal("60.5"), None, "hangup"), {})
        session = await store.agent_logged_in("acme", "8001", T0)
        await store.agents_seen([session], T0 + timedelta(minutes=5))
        await store.agent_logged_out(session, T0 + timedelta(hours=1))
        until = datetime.now(UTC) + timedelta(days=1)  # a recording is dated when it was stored
        calls, sessions, recordings = await store.usage_inputs(T0 - timedelta(days=1), until)
        [call] = calls
        assert (call.tenant, call.started, call.ended) == ("acme", T0, T0 + timedelta(seconds=80))
        assert call.talk == ((T0 + timedelta(seconds=10), T0 + timedelta(seconds=70)),)
        assert [(s.tenant, s.agent, s.start, s.end) for s in sessions] == [
            ("acme", "8001", T0, T0 + timedelta(hours=1))
        ]
        assert [(r.tenant, r.seconds) for r in recordings] == [("acme", Decimal("60.5"))]
        assert await store.usage_inputs(T0 - timedelta(days=1), until, "other") == (
            [],
            [],
            [],
        )


async def test_an_agent_session_left_open_closes_at_its_last_heartbeat(open_store: Opener) -> None:
    async with open_store("a") as store:
        session = await store.agent_logged_in("acme", "8001", T0)
        await store.agents_seen([session], T0 + timedelta(minutes=5))
    async with open_store("a") as store:
        _, sessions, _ = await store.usage_inputs(T0 - timedelta(days=1), T0 + timedelta(days=1))
        assert [s.end for s in sessions] == [T0 + timedelta(minutes=5)]


# -- only on a shared database -------------------------------------------------------------


async def test_an_instance_starting_leaves_its_peers_calls_alone(postgres_url: str) -> None:
    async with open_postgres_call_records(postgres_url, instance="a") as a:
        await start(a, "on-a")
        async with open_postgres_call_records(postgres_url, instance="b") as b:
            assert b.recovered_at_open == []
            assert (await b.get_call("on-a")).how is None  # type: ignore[union-attr]
            await start(b, "on-b")
            assert await b.instance_of("on-b") == "b"
    async with open_postgres_call_records(postgres_url, instance="a") as a:
        assert a.recovered_at_open == ["on-a"]
        assert (await a.get_call("on-b")).how is None  # type: ignore[union-attr]  # b's own to close


async def test_two_peers_noticing_a_dead_instance_close_each_call_once(postgres_url: str) -> None:
    async with open_postgres_call_records(postgres_url, instance="dead") as dead:
        for n in range(30):
            await start(dead, f"c{n}")
    closed: list[list[str]] = []
    async with (
        open_postgres_call_records(postgres_url, instance="a") as a,
        open_postgres_call_records(postgres_url, instance="b") as b,
    ):

        async def notice(store: PostgresCallRecords) -> None:
            closed.append(await store.recover_instance("dead"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(notice, a)
            nursery.start_soon(notice, b)
        assert sorted(closed[0] + closed[1]) == sorted(f"c{n}" for n in range(30))
        interrupted = [e for n in range(30) for e in await a.events(f"c{n}") if e.kind == "call_interrupted"]
        assert len(interrupted) == 30


async def test_instances_starting_together_migrate_once(postgres_url: str) -> None:
    async def open_one(instance: str) -> None:
        async with open_postgres_call_records(postgres_url, instance=instance):
            pass

    async with trio.open_nursery() as nursery:
        for n in range(4):
            nursery.start_soon(open_one, f"i{n}")
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT component, version FROM schema_migrations ORDER BY version").fetchall()
    assert rows == [("call_records", 1), ("call_records", 2)]


async def test_a_migration_waits_for_the_schema_lock(postgres_url: str) -> None:
    """The advisory lock is what serialises instances: while another session holds it, no
    store can open; once released, it opens."""
    opened = trio.Event()

    async def open_one() -> None:
        async with open_postgres_call_records(postgres_url):
            opened.set()

    with psycopg.connect(postgres_url) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(open_one)
            await trio.sleep(0.5)
            assert not opened.is_set()
            holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            with trio.fail_after(30):
                await opened.wait()


async def test_a_database_of_a_newer_program_is_refused_and_left_unchanged(postgres_url: str) -> None:
    async with open_postgres_call_records(postgres_url):
        pass
    with psycopg.connect(postgres_url) as conn:
        conn.execute("INSERT INTO schema_migrations (component, version) VALUES ('call_records', 99)")
    with pytest.raises(SchemaError, match="call_records schema version 99 is newer"):
        async with open_postgres_call_records(postgres_url):
            pass
