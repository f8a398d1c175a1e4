"""The agents' journal: logins, failed logins, lock-outs, state changes with their not-ready
reasons, session ends. Durable, for security audits and the shift reports.

Place: written by the CTI (`ivr.adapters.cti.auth` for logins, `ivr.adapters.cti.server`
for the ACD's agent states); `SqliteAgentJournal` keeps it in SQLite (its own table and
migrations, in any file), `MemoryAgentJournal` in memory with the same behaviour (both pass
tests/cti/test_cti_audit.py). `not_ready_seconds` is the first report built on it: how long
each agent spent not ready, per reason. Never holds a password or a token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import trio

from ivr.adapters.storage.codec import storable_text
from ivr.adapters.storage.schema import Migration, connect, prepare

COMPONENT = "cti_agent_journal"
MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE agent_journal (
                id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT NOT NULL,
                extension TEXT, address TEXT, detail TEXT NOT NULL)""",
            "CREATE INDEX agent_journal_extension ON agent_journal (extension, at)",
        ],
    ),
    # reports read every agent's state lines of a time range (ivr report --by agent)
    (2, ["CREATE INDEX agent_journal_at ON agent_journal (at)"]),
]


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """One line: `kind` is login, login_failed, locked_out, logout, state, session_ended or
    history (the agent looked at a customer's history: `call_id` or `account`)."""

    at: datetime
    kind: str
    extension: str | None
    address: str | None = None
    detail: Mapping[str, object] = field(default_factory=dict)


class AgentJournal(Protocol):
    async def record(self, event: AgentEvent) -> None:
        """Durable on return."""
        ...

    async def events(self, extension: str | None = None, kind: str | None = None) -> list[AgentEvent]:
        """In the order written."""
        ...

    async def latest(self, kinds: Sequence[str], limit: int) -> list[AgentEvent]:
        """The newest `limit` lines of these kinds, newest first (the supervisors' audit log)."""
        ...


class MemoryAgentJournal:
    def __init__(self) -> None:
        self.lines: list[AgentEvent] = []

    async def record(self, event: AgentEvent) -> None:
        self.lines.append(event)
        await trio.lowlevel.checkpoint()

    async def events(self, extension: str | None = None, kind: str | None = None) -> list[AgentEvent]:
        await trio.lowlevel.checkpoint()
        return [e for e in self.lines if _matches(e, extension, kind)]

    async def latest(self, kinds: Sequence[str], limit: int) -> list[AgentEvent]:
        await trio.lowlevel.checkpoint()
        return [e for e in reversed(self.lines) if e.kind in kinds][:limit]


class SqliteAgentJournal:
    """Create with `await SqliteAgentJournal.open(path)`; each write commits (durable)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = trio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> SqliteAgentJournal:
        path = Path(path)
        await trio.to_thread.run_sync(prepare, path, COMPONENT, MIGRATIONS)
        return cls(path)

    async def record(self, event: AgentEvent) -> None:
        row = (  # a typed extension may hold a lone surrogate, which SQLite's UTF-8 refuses
            event.at.isoformat(),
            storable_text(event.kind),
            None if event.extension is None else storable_text(event.extension),
            None if event.address is None else storable_text(event.address),
            json.dumps(dict(event.detail)),
        )
        async with self._lock:
            await trio.to_thread.run_sync(_insert, self._path, row)

    async def events(self, extension: str | None = None, kind: str | None = None) -> list[AgentEvent]:
        rows = await trio.to_thread.run_sync(_select, self._path)
        found = [
            AgentEvent(datetime.fromisoformat(at), k, ext, addr, json.loads(detail))
            for at, k, ext, addr, detail in rows
        ]
        return [e for e in found if _matches(e, extension, kind)]

    async def latest(self, kinds: Sequence[str], limit: int) -> list[AgentEvent]:
        rows = await trio.to_thread.run_sync(_select_latest, self._path, tuple(kinds), limit)
        return [
            AgentEvent(datetime.fromisoformat(at), k, ext, addr, json.loads(detail))
            for at, k, ext, addr, detail in rows
        ]


def not_ready_seconds(events: Iterable[AgentEvent], until: datetime) -> dict[str, dict[str, float]]:
    """Seconds each agent was not ready, per reason ("" when none was given), from the
    journal's `state` lines up to `until`."""
    totals: dict[str, dict[str, float]] = {}
    since: dict[str, tuple[datetime, str]] = {}
    for event in events:
        if event.kind != "state" or event.extension is None:
            continue
        agent = event.extension
        if agent in since:
            start, reason = since.pop(agent)
            per_reason = totals.setdefault(agent, {})
            per_reason[reason] = per_reason.get(reason, 0.0) + (event.at - start).total_seconds()
        if event.detail.get("state") == "not_ready":
            since[agent] = (event.at, str(event.detail.get("reason") or ""))
    for agent, (start, reason) in since.items():
        per_reason = totals.setdefault(agent, {})
        per_reason[reason] = per_reason.get(reason, 0.0) + max(0.0, (until - start).total_seconds())
    return totals


def _matches(event: AgentEvent, extension: str | None, kind: str | None) -> bool:
    return (extension is None or event.extension == extension) and (kind is None or event.kind == kind)


def _insert(path: Path, row: tuple[object, ...]) -> None:
    conn = connect(path)
    try:
        with conn:
            conn.execute(
                "INSERT INTO agent_journal (at, kind, extension, address, detail) VALUES (?, ?, ?, ?, ?)", row
            )
    finally:
        conn.close()


def _select_latest(
    path: Path, kinds: tuple[str, ...], limit: int
) -> list[tuple[str, str, str | None, str | None, str]]:
    """Read from the newest line back (the primary key), so recent lines cost little."""
    conn = connect(path)
    try:
        marks = ", ".join("?" * len(kinds))
        rows = conn.execute(
            "SELECT at, kind, extension, address, detail FROM agent_journal"
            f" WHERE kind IN ({marks}) ORDER BY id DESC LIMIT ?",
            (*kinds, limit),
        ).fetchall()
    finally:
        conn.close()
    return [tuple(row) for row in rows]


def _select(path: Path) -> list[tuple[str, str, str | None, str | None, str]]:
    conn = connect(path)
    try:
        rows = conn.execute(
            "SELECT at, kind, extension, address, detail FROM agent_journal ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return [tuple(row) for row in rows]
