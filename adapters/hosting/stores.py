"""Which durable stores `ivr serve` uses: SQLite files in the data folder, or PostgreSQL.

Place: under the composition root (`server.py`) and the outbound side
(`ivr.adapters.dialer.hosting`). Without a database URL every store is a SQLite file under
the data folder (the embedded default); with one (`--database-url`, `IVR_DATABASE_URL`, or
the hosting file's `database: url`), the call records, the campaigns (attempts and the
do-not-call list), the messages outbox, the queue callbacks, the agents' journal (with
the login lock-outs) and the published versions of the tenants' flows live in PostgreSQL,
shared by every instance pointed at it, each call, attempt and journal line stamped with
this instance (docs/cluster.md). A tenant's campaigns, outbox, callbacks, journal and
versions are in a schema of their own (`tenant_<name>`), as they are in files of their own
on SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from ivr.adapters.cti.audit import AgentJournal, SqliteAgentJournal
from ivr.adapters.cti.throttle import LoginGate, LoginLimits
from ivr.adapters.cti.tokens import Tokens
from ivr.adapters.hosting.config import HostingConfig
from ivr.adapters.hosting.live import StampedRecords
from ivr.adapters.hosting.versions import Versions, VersionStore
from ivr.adapters.messaging.service import OutboxPlace
from ivr.adapters.postgres.agent_journal import open_postgres_agent_journal
from ivr.adapters.postgres.callbacks import open_postgres_callback_journal
from ivr.adapters.postgres.campaigns import open_postgres_campaign_store
from ivr.adapters.postgres.database import describe
from ivr.adapters.postgres.outbox import PostgresOutboxPlace
from ivr.adapters.postgres.peers import PeerWatch, open_peer_watch
from ivr.adapters.postgres.records import open_postgres_call_records
from ivr.adapters.postgres.versions import open_postgres_versions_of
from ivr.adapters.storage.campaigns import open_sqlite_campaign_store
from ivr.adapters.storage.reads import CallRecord, StoredRecording
from ivr.adapters.storage.records import open_sqlite_call_records
from ivr.runtime.ports import CallbackJournal, CallEvent, CampaignStore
from ivr.runtime.usage import CallUsage, RecordingUsage, SessionUsage


class RecordStore(StampedRecords, Protocol):
    """The call-record store of a server: the `CallRecords` port stamped with tenant and
    version, agents' sessions, the reads of /calls and /usage, and recovery by instance
    (`SqliteCallRecords` and `PostgresCallRecords`)."""

    recovered_at_open: list[str]

    async def agent_logged_in(self, tenant: str, agent: str, at: datetime) -> int: ...
    async def agents_seen(self, sessions: list[int], at: datetime) -> None: ...
    async def agent_logged_out(self, session: int, at: datetime) -> None: ...
    async def recover_instance(self, instance: str, at: datetime | None = None) -> list[str]: ...
    async def get_call(self, call_id: str) -> CallRecord | None: ...
    async def events(self, call_id: str) -> list[CallEvent]: ...
    async def recordings(self, call_id: str) -> list[StoredRecording]: ...
    async def recording(self, recording_id: str) -> StoredRecording | None: ...
    async def order_recordings(self, order_no: str) -> list[StoredRecording]: ...
    async def usage_inputs(
        self, since: datetime, until: datetime, tenant: str | None = None
    ) -> tuple[list[CallUsage], list[SessionUsage], list[RecordingUsage]]: ...


@asynccontextmanager
async def open_record_store(config: HostingConfig) -> AsyncIterator[RecordStore]:
    """The server's call records for the block: PostgreSQL with a database URL, else
    `DATA_DIR/calls.sqlite3`."""
    if config.database_url:
        async with open_postgres_call_records(config.database_url, instance=config.instance) as records:
            yield records
    else:
        async with open_sqlite_call_records(config.records_db, instance=config.instance) as store:
            yield store


def open_campaign_store(
    config: HostingConfig, tenant: str, root: Path
) -> AbstractAsyncContextManager[CampaignStore]:
    """A tenant's campaign store: its schema in PostgreSQL, else `root/campaigns.sqlite3`."""
    if config.database_url:
        return open_postgres_campaign_store(
            config.database_url, instance=config.instance, schema=f"tenant_{tenant}"
        )
    return open_sqlite_campaign_store(root / "campaigns.sqlite3")


@asynccontextmanager
async def open_callback_journal(
    config: HostingConfig, tenant: str, file: Path
) -> AsyncIterator[Path | CallbackJournal]:
    """Where a tenant's queue callbacks are kept: its schema in PostgreSQL (each place
    stamped with this instance, which alone calls it back; `adopt(peer)` for a dead one's),
    else the agents' journal `file` (opened by `callback_settings`)."""
    if not config.database_url:
        yield file
        return
    async with open_postgres_callback_journal(
        config.database_url, instance=config.instance, schema=f"tenant_{tenant}"
    ) as journal:
        yield journal


@dataclass(frozen=True)
class AgentAudit:
    """A tenant's agents' journal, and the login gate and desktop tokens its desk uses
    (None: this instance's memory; on the shared database, center-wide)."""

    journal: AgentJournal
    logins: Callable[[LoginLimits], LoginGate] | None = None
    tokens: Callable[[float], Tokens] | None = None


@asynccontextmanager
async def open_agent_audit(config: HostingConfig, tenant: str, file: Path) -> AsyncIterator[AgentAudit]:
    """A tenant's agents' journal: its schema in PostgreSQL (every instance's lines, the
    lock-outs counted center-wide), else `file` (`agent-journal.sqlite3`)."""
    if not config.database_url:
        yield AgentAudit(await SqliteAgentJournal.open(file))
        return
    async with open_postgres_agent_journal(
        config.database_url, instance=config.instance, schema=f"tenant_{tenant}"
    ) as journal:
        yield AgentAudit(journal, journal.login_gate, journal.token_book)


@asynccontextmanager
async def open_tenant_peers(config: HostingConfig, tenant: str) -> AsyncIterator[PeerWatch | None]:
    """With a database URL, this instance's heartbeat in the tenant's schema, which hands it
    a silent peer's work (`ivr.adapters.postgres.peers`); None on SQLite (one instance)."""
    if not config.database_url:
        yield None
        return
    schema = f"tenant_{tenant}"
    async with open_peer_watch(config.database_url, instance=config.instance, schema=schema) as watch:
        yield watch


def outbox_place(config: HostingConfig, tenant: str, file: Path) -> OutboxPlace:
    """A tenant's outbox: its schema in PostgreSQL (drained by every instance's workers),
    else its own `file`."""
    if config.database_url:
        return PostgresOutboxPlace(config.database_url, config.instance, schema=f"tenant_{tenant}")
    return file


@asynccontextmanager
async def open_version_stores(
    config: HostingConfig, folders: Mapping[str, Path]
) -> AsyncIterator[dict[str, Versions]]:
    """Where each tenant's published versions are (`folders`: tenant -> its versions folder):
    its schema in PostgreSQL, shared by the instances (the files each instance uses cached
    in `versions-cache/` beside the folder), else the folder itself."""
    if not config.database_url or not folders:
        yield {name: VersionStore(folder) for name, folder in folders.items()}
        return
    caches = {f"tenant_{name}": folder.with_name("versions-cache") for name, folder in folders.items()}
    async with open_postgres_versions_of(config.database_url, caches) as stores:
        yield {name: stores[f"tenant_{name}"] for name in folders}


def records_place(config: HostingConfig) -> str:
    """Where the records are, for the start-up line (never the URL's password)."""
    if not config.database_url:
        return str(config.records_db)
    return f"PostgreSQL {describe(config.database_url)} (instance {config.instance})"
