"""Every `CallRecords` implementation passes the same contract (`records_contract.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from records_contract import CHECKS, CallHeader, Check, EventLine, RecordsHarness

from ivr.adapters.postgres.records import PostgresCallRecords, open_postgres_call_records
from ivr.adapters.storage import SqliteCallRecords, open_sqlite_call_records
from ivr.runtime.ports import Recording

try:
    from ivr.runtime.testing import MemoryCallRecords
except ImportError:  # pragma: no cover - the fake is written in parallel; the contract still runs
    MemoryCallRecords = None  # type: ignore[assignment,misc]


class SqliteHarness:
    """Reads back through the store's own read helpers (the PostgreSQL store has the same)."""

    def __init__(self, records: SqliteCallRecords | PostgresCallRecords) -> None:
        self.records = records

    async def call(self, call_id: str) -> CallHeader | None:
        record = await self.records.get_call(call_id)
        if record is None:
            return None
        return (record.flow, record.caller, record.dialed, record.how)

    async def events(self, call_id: str) -> list[EventLine]:
        return [(e.kind, e.node, e.detail) for e in await self.records.events(call_id)]

    async def recordings(self, call_id: str) -> list[tuple[Recording, Mapping[str, object]]]:
        return [(r.recording, r.metadata) for r in await self.records.recordings(call_id)]


class MemoryHarness:
    def __init__(self) -> None:
        self.records = MemoryCallRecords()

    async def call(self, call_id: str) -> CallHeader | None:
        started = self.records.started.get(call_id)
        if started is None:
            return None
        header = (started["flow"], started["caller"], started["dialed"], self.records.ended.get(call_id))
        return header  # type: ignore[return-value]

    async def events(self, call_id: str) -> list[EventLine]:
        return [(e.kind, e.node, e.detail) for e in self.records.of(call_id)]

    async def recordings(self, call_id: str) -> list[tuple[Recording, Mapping[str, object]]]:
        return [(r.recording, r.metadata) for r in self.records.recordings if r.call_id == call_id]


@asynccontextmanager
async def sqlite_harness(tmp_path: Path) -> AsyncIterator[RecordsHarness]:
    async with open_sqlite_call_records(tmp_path / "records.db") as records:
        yield SqliteHarness(records)


@asynccontextmanager
async def memory_harness(request: pytest.FixtureRequest) -> AsyncIterator[RecordsHarness]:
    yield MemoryHarness()


@asynccontextmanager
async def sqlite_file_harness(request: pytest.FixtureRequest) -> AsyncIterator[RecordsHarness]:
    async with sqlite_harness(request.getfixturevalue("tmp_path")) as harness:
        yield harness


@asynccontextmanager
async def postgres_harness(request: pytest.FixtureRequest) -> AsyncIterator[RecordsHarness]:
    async with open_postgres_call_records(request.getfixturevalue("postgres_url")) as records:
        yield SqliteHarness(records)


Factory = Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[RecordsHarness]]
IMPLEMENTATIONS: dict[str, Factory] = {"sqlite": sqlite_file_harness, "postgres": postgres_harness}
if MemoryCallRecords is not None:
    IMPLEMENTATIONS["memory"] = memory_harness


@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS))
@pytest.mark.parametrize("contract_check", CHECKS, ids=lambda c: c.__name__)
async def test_call_records_contract(
    implementation: str, contract_check: Check, request: pytest.FixtureRequest
) -> None:
    async with IMPLEMENTATIONS[implementation](request) as harness:
        await contract_check(harness)
