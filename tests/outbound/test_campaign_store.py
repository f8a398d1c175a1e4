"""Every `CampaignStore` passes the same contract (`ivr.runtime.testing.campaign_store_contract`):
the in-memory double, the SQLite store and the PostgreSQL store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
import pytest

from ivr.adapters.postgres.campaigns import open_postgres_campaign_store
from ivr.adapters.storage.campaigns import open_sqlite_campaign_store
from ivr.runtime.ports import CampaignStore
from ivr.runtime.testing.campaign_store_contract import CHECKS, Check
from ivr.runtime.testing.campaigns import MemoryCampaignStore


class MemoryFactory:
    def __init__(self) -> None:
        self.store = MemoryCampaignStore()

    @asynccontextmanager
    async def fresh(self) -> AsyncIterator[CampaignStore]:
        self.store = MemoryCampaignStore()
        yield self.store

    @asynccontextmanager
    async def reopen(self) -> AsyncIterator[CampaignStore]:
        yield self.store


class SqliteFactory:
    def __init__(self, path: Path) -> None:
        self.path = path

    @asynccontextmanager
    async def fresh(self) -> AsyncIterator[CampaignStore]:
        self.path.unlink(missing_ok=True)
        async with open_sqlite_campaign_store(self.path) as store:
            yield store

    @asynccontextmanager
    async def reopen(self) -> AsyncIterator[CampaignStore]:
        async with open_sqlite_campaign_store(self.path) as store:
            yield store


class PostgresFactory:
    def __init__(self, url: str) -> None:
        self.url = url

    @asynccontextmanager
    async def fresh(self) -> AsyncIterator[CampaignStore]:
        with psycopg.connect(self.url, autocommit=True) as conn:  # an empty database again
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        async with open_postgres_campaign_store(self.url) as store:
            yield store

    @asynccontextmanager
    async def reopen(self) -> AsyncIterator[CampaignStore]:
        async with open_postgres_campaign_store(self.url) as store:
            yield store


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_the_memory_store_keeps_the_contract(check: Check) -> None:
    await check(MemoryFactory())


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_the_sqlite_store_keeps_the_contract(check: Check, tmp_path: Path) -> None:
    await check(SqliteFactory(tmp_path / "campaigns.sqlite3"))


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_the_postgres_store_keeps_the_contract(check: Check, postgres_url: str) -> None:
    await check(PostgresFactory(postgres_url))
