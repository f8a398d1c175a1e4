"""The customer's history with a shared database: the calls, messages and outbound attempts
are read from PostgreSQL (the records every instance writes, the tenant's outbox and
campaigns in its schema), the back office from its SQLite file. The story of
`history_support`, written through two instances' call-record stores on one database, reads
exactly as from the SQLite stores (calls of both instances, paths, pages, the call joined
through a transfer); every PostgreSQL query can be answered through an index; a database out
of reach leaves those sections empty, not the desk broken."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest
import trio
from history_support import ACCOUNT, TENANT, ZHANG, fill_stores, seed, seed_back_office

from ivr.adapters.history import HistoryDatabase, HistoryReader, HistorySources, Who, tenant_sources
from ivr.adapters.postgres.campaigns import open_postgres_campaign_store
from ivr.adapters.postgres.outbox import PostgresOutboxPlace, open_postgres_outbox
from ivr.adapters.postgres.records import open_postgres_call_records

SCHEMA = f"tenant_{TENANT}"


async def seed_database(url: str) -> None:
    outbox = await open_postgres_outbox(PostgresOutboxPlace(url, "a", SCHEMA))
    try:
        async with (
            open_postgres_call_records(url, instance="a") as at_a,
            open_postgres_call_records(url, instance="b") as at_b,
            open_postgres_campaign_store(url, instance="a", schema=SCHEMA) as campaigns,
        ):
            await fill_stores([at_a, at_b], outbox, campaigns)
    finally:
        await outbox.aclose()


@pytest.fixture
def both(tmp_path: Path, postgres_url: str) -> tuple[HistorySources, HistorySources]:
    """The story in SQLite files, and in the database (with its own back office file)."""
    (tmp_path / "files").mkdir()
    on_files = seed(tmp_path / "files")
    trio.run(seed_database, postgres_url)
    (tmp_path / "shared").mkdir()
    seed_back_office(tmp_path / "shared" / "brokerage.sqlite3")
    shared = HistorySources(
        TENANT,
        None,
        brokerage=tmp_path / "shared" / "brokerage.sqlite3",
        database=HistoryDatabase(postgres_url, SCHEMA),
    )
    return on_files, shared


def read(sources: HistorySources, who: Who, **options: object) -> dict[str, object]:
    reader = HistoryReader(sources)
    try:
        return reader.read(who, **options).as_json()  # type: ignore[arg-type]
    finally:
        reader.close()


def test_the_history_from_the_database_equals_the_one_from_the_files(
    both: tuple[HistorySources, HistorySources],
) -> None:
    on_files, shared = both
    for who in (
        Who(account=ACCOUNT),
        Who(caller=ZHANG),
        Who(caller="13333333333"),
        Who(caller="13900139000"),
    ):
        assert read(shared, who) == read(on_files, who), who
    history = read(shared, Who(account=ACCOUNT))
    calls = history["calls"]["lines"]  # type: ignore[index]
    assert [c["call_id"] for c in calls] == ["c4", "c3", "c2", "c1"]  # x1 is tenant other's
    assert calls[1]["path"] == ("main.pick", "orders.ask", "orders.place", "main.bye")
    assert [m["delivery_id"] for m in history["messages"]["lines"]] == ["m2", "m1"]  # type: ignore[index]
    assert [a["outcome"] for a in history["attempts"]["lines"]] == ["answered", "no_answer"]  # type: ignore[index]


def test_a_call_taken_by_instance_a_is_in_the_history_read_at_instance_b(
    both: tuple[HistorySources, HistorySources], postgres_url: str
) -> None:
    _, shared = both
    with psycopg.connect(postgres_url) as conn:
        instances = dict(conn.execute("SELECT call_id, instance FROM calls").fetchall())
    assert {instances[c] for c in ("c1", "c2", "c3", "c4")} == {"a", "b"}  # c1, c3 at a; c2, c4 at b
    reader = HistoryReader(shared)  # the desk of either instance reads the same database
    try:
        first = reader.read_sections(Who(account=ACCOUNT), ["calls"], limit=2)
        more = first.page("calls").more
        assert [line.call_id for line in first.page("calls").lines] == ["c4", "c3"]  # type: ignore[union-attr]
        second = reader.read_sections(Who(account=ACCOUNT), ["calls"], before=more, limit=2)
        assert [line.call_id for line in second.page("calls").lines] == ["c2", "c1"]  # type: ignore[union-attr]
        assert second.page("calls").more is None
    finally:
        reader.close()


def test_every_database_query_of_a_history_can_use_an_index(
    both: tuple[HistorySources, HistorySources], postgres_url: str
) -> None:
    _, shared = both
    reader = HistoryReader(shared)
    assert reader.shared is not None
    statements: list[tuple[str, str, Sequence[object]]] = []
    reader.shared.trace = lambda source, statement, args: statements.append((source, statement, args))
    try:
        reader.read(Who(account=ACCOUNT))
        reader.read_sections(
            Who(caller=ZHANG), ["calls", "messages", "attempts"], before="2026-12-01T01:25", limit=1
        )
    finally:
        reader.close()
    assert {source for source, _, _ in statements} == {"records", "outbox", "campaigns"}
    used: set[str] = set()
    with psycopg.connect(postgres_url) as conn:
        conn.execute("SET enable_seqscan = off")  # the tables are tiny: ask whether an index serves
        for _, statement, args in statements:
            [[[found]]] = conn.execute(f"EXPLAIN (FORMAT JSON) {statement}", args).fetchall()
            plan = json.dumps(found)
            assert "Seq Scan" not in plan, statement
            used |= set(re.findall(r'"Index Name": "(\w+)"', plan))
    # a caller's calls, messages to an address, attempts to a number: each by its own index
    assert {"calls_tenant_caller", "events_call", "outbox_recipient", "campaign_attempts_number"} <= used


def test_a_database_out_of_reach_leaves_its_sections_empty(tmp_path: Path) -> None:
    seed_back_office(tmp_path / "brokerage.sqlite3")
    sources = tenant_sources(
        TENANT,
        tmp_path / "calls.sqlite3",
        data_dir=tmp_path,
        root=tmp_path,
        outbox=tmp_path / "outbox.sqlite3",
        database_url="postgresql://nobody@127.0.0.1:1/none",
    )
    assert sources.records is None and sources.database is not None
    history = read(sources, Who(account=ACCOUNT))
    assert history["customer"]["known"]  # type: ignore[index]  # the back office still answers
    assert history["calls"]["lines"] == [] and history["orders"]["lines"] != []  # type: ignore[index]
