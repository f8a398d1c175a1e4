"""`SqliteAgentStore`: agent accounts in SQLite (the `agents` table, next to the call records).

Place: the other source of `AgentAccount`s besides the agents file (`ivr.adapters.cti.accounts`).
The table is read once when the store opens and kept in memory, so a login never waits on the
disk; `put` writes through. Uses the storage adapter's connection settings and migrations.
"""

from __future__ import annotations

import json
from pathlib import Path

import trio

from ivr.adapters.cti.accounts import AgentAccount
from ivr.adapters.storage.schema import Migration, connect, migrate

COMPONENT = "cti_agents"
MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE agents (
                extension TEXT PRIMARY KEY, name TEXT NOT NULL, password_hash TEXT NOT NULL,
                address TEXT NOT NULL, skills TEXT NOT NULL)""",
        ],
    )
]


class SqliteAgentStore:
    """An `AgentDirectory` over one SQLite file. Create with `await SqliteAgentStore.open(path)`."""

    def __init__(self, path: Path, accounts: dict[str, AgentAccount]) -> None:
        self._path = path
        self._accounts = accounts

    @classmethod
    async def open(cls, path: Path | str) -> SqliteAgentStore:
        accounts = await trio.to_thread.run_sync(_load, Path(path))
        return cls(Path(path), accounts)

    def get(self, extension: str) -> AgentAccount | None:
        return self._accounts.get(extension)

    async def put(self, account: AgentAccount) -> None:
        """Add or replace an account (durable on return)."""
        await trio.to_thread.run_sync(_save, self._path, account)
        self._accounts[account.extension] = account


def _load(path: Path) -> dict[str, AgentAccount]:
    conn = connect(path)
    try:
        migrate(conn, COMPONENT, MIGRATIONS)
        rows = conn.execute("SELECT extension, name, password_hash, address, skills FROM agents").fetchall()
    finally:
        conn.close()
    return {row[0]: AgentAccount(row[0], row[1], row[2], row[3], json.loads(row[4])) for row in rows}


def _save(path: Path, account: AgentAccount) -> None:
    conn = connect(path)
    try:
        migrate(conn, COMPONENT, MIGRATIONS)
        row = (
            account.extension,
            account.name,
            account.password_hash,
            account.address,
            json.dumps(dict(account.skills)),
        )
        with conn:
            conn.execute("INSERT OR REPLACE INTO agents VALUES (?, ?, ?, ?, ?)", row)
    finally:
        conn.close()
