"""The supervisor pages' recording search finds the same recordings on the SQLite file and on
PostgreSQL: by caller, agent (one or several), order number, account (the recording's, or
the data the caller brought to the queue), time range and tenant, newest first; `find`
gives one of the tenant's recordings with its audio path, and nobody else's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ivr.adapters.postgres.records import open_postgres_call_records
from ivr.adapters.storage import open_sqlite_call_records
from ivr.adapters.supervision.recordings import Found, RecordingSearch, find, search
from ivr.adapters.supervision.recordings_postgres import find_postgres, search_postgres
from ivr.runtime.ports import CallEvent, CallRecords, Recording

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CALLS = [  # call id, tenant, caller, minutes after T0, recording metadata, data brought to the queue
    ("c1", "bank", "13900000001", 0, {"kind": "agent", "agent": "8001", "orders": ["O-1"]}, {}),
    ("c2", "bank", "13900000002", 10, {"kind": "agent", "agents": ["8001", "8002"]}, {"account": "A-7"}),
    ("c3", "bank", "13800000003", 20, {"kind": "complaint", "account": "A-7", "orders": ["O-11"]}, {}),
    ("c4", "fund", "13900000001", 30, {"kind": "agent", "agent": "8001", "orders": ["O-1"]}, {}),
]


async def write_calls(records: CallRecords) -> None:
    for call_id, tenant, caller, minutes, meta, data in CALLS:
        at = T0 + timedelta(minutes=minutes)
        await records.call_started(call_id, flow="main", caller=caller, dialed="95500", at=at, tenant=tenant)  # type: ignore[call-arg]
        if data:
            await records.call_event(
                CallEvent(call_id, "queue", at, "agent", {"queue": "general", "data": data})
            )
        await records.store_recording(
            call_id, Recording(f"{call_id}-r", Decimal("12.5"), f"/rec/{call_id}.wav", "hangup"), meta
        )


Searcher = Callable[[RecordingSearch], list[Found]]


@pytest.fixture(params=["sqlite", "postgres"])
async def searcher(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Searcher, Callable[..., object]]:
    if request.param == "sqlite":
        path = tmp_path / "calls.sqlite3"
        async with open_sqlite_call_records(path) as records:
            await write_calls(records)
        return (lambda query: search(path, query)), (lambda tenant, rid: find(path, tenant, rid))
    url: str = request.getfixturevalue("postgres_url")
    async with open_postgres_call_records(url) as stored:
        await write_calls(stored)
    return (lambda query: search_postgres(url, query)), (lambda tenant, rid: find_postgres(url, tenant, rid))


def query(**fields: str) -> RecordingSearch:
    return RecordingSearch("bank", T0 - timedelta(days=1), T0 + timedelta(days=1), **fields)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ["c3", "c2", "c1"]),
        ({"caller": "1390000000"}, ["c2", "c1"]),
        ({"agent": "8001"}, ["c2", "c1"]),
        ({"agent": "8002"}, ["c2"]),
        ({"order": "O-1"}, ["c1"]),  # not O-11
        ({"account": "A-7"}, ["c3", "c2"]),  # the recording's, or the data brought to the queue
        ({"account": "A-77"}, []),
        ({"agent": "8001", "order": "O-1"}, ["c1"]),
    ],
)
async def test_a_search_finds_the_same_recordings_on_both_stores(
    searcher: tuple[Searcher, Callable[..., object]], fields: dict[str, str], expected: list[str]
) -> None:
    found = searcher[0](query(**fields))
    assert [f.call_id for f in found] == expected
    assert all(f.started_at.tzinfo is not None and f.seconds == "12.5" for f in found)


async def test_a_search_outside_the_time_range_finds_nothing(
    searcher: tuple[Searcher, Callable[..., object]],
) -> None:
    later = RecordingSearch("bank", T0 + timedelta(hours=1), T0 + timedelta(days=1))
    assert searcher[0](later) == []


async def test_find_gives_the_tenants_recording_with_its_path_and_nobody_elses(
    searcher: tuple[Searcher, Callable[..., object]],
) -> None:
    hit = searcher[1]("bank", "c3-r")
    assert hit is not None
    found, path = hit  # type: ignore[misc]
    assert (found.kind, found.orders, path) == ("complaint", ("O-11",), "/rec/c3.wav")
    assert searcher[1]("bank", "c4-r") is None  # the fund's
