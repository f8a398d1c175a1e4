"""One supervisor site for a whole test module: a real ACD over the in-memory connector, the
CTI server, the supervisor pages, SQLite call records with three recorded calls (one a
phone order), the brokerage back office with two complaint tickets, the agents' journal in
SQLite; served by hypercorn on a free port, in a thread of its own (its own trio run), so
sync tests drive Chromium and reach into the site with `site.run_sync`.

Fixed data, fixed times (2026-12-01, UTC), so the pages and their screenshots come out the
same every run.
"""

from __future__ import annotations

import contextlib
import math
import struct
import threading
import wave
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import trio
from asgi_support import serving

from ivr.adapters.brokerage.module import create as brokerage
from ivr.adapters.cti import SqliteAgentJournal, build_cti_app, hash_password, load_agents_file
from ivr.adapters.cti.testing import DeskConnector
from ivr.adapters.storage import open_sqlite_call_records
from ivr.adapters.supervision import Sources, SupervisorApp, tickets_of
from ivr.runtime.acd import Acd, AcdSettings, QueueConfig, open_acd
from ivr.runtime.modules import ModuleContext
from ivr.runtime.ports import CallEnded, CallEvent, QueueRequest, Recording
from ivr.runtime.testing import MemoryCallLeg

T = TypeVar("T")
TENANT = "bank"
PASSWORDS = {"8001": "agent-8001", "8002": "agent-8002", "8009": "super-8009"}
DAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ORDER = "20261201000042"
AGENTS_YAML = """
agents:
  - {{extension: "8001", name: Alice Agent, password_hash: "{h8001}", phone: "sip:8001@127.0.0.1",
      skills: {{general: 3, billing: 2}}}}
  - {{extension: "8002", name: Bob Agent, password_hash: "{h8002}", phone: "sip:8002@127.0.0.1",
      skills: {{general: 2, billing: 5}}}}
  - {{extension: "8009", name: Sam Supervisor, password_hash: "{h8009}", phone: "sip:8009@127.0.0.1",
      roles: [supervisor]}}
"""


def tone(path: Path, seconds: float = 1.5, hertz: float = 440.0, rate: int = 8000) -> Path:
    """A mono 16-bit WAV: what a recording file is."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        samples = (int(8000 * math.sin(2 * math.pi * hertz * i / rate)) for i in range(int(seconds * rate)))
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


def _queue_lines(
    agent: str | None, wait: int, account: str
) -> list[tuple[int, str, str | None, dict[str, object]]]:
    """A call's record lines in queue `general` as the engine and the ACD journal write them:
    answered by `agent` after `wait` seconds, or abandoned after `wait` ("" for the agent);
    None: the call never queued."""
    if agent is None:
        return []
    queue = {"queue": "general"}
    lines: list[tuple[int, str, str | None, dict[str, object]]] = [(0, "node_entered", "agent", {})]
    if agent:
        lines.append((wait, "agent_connected", None, {**queue, "agent": agent}))
        lines.append((wait + 60, "agent_call_ended", None, {**queue, "agent": agent, "outcome": "completed"}))
    else:
        lines.append((wait, "agent_call_ended", None, {**queue, "outcome": "abandoned"}))
    outcome = {"outcome": "answered" if agent else "hangup", "data": {"account": account}}
    lines.append((wait + 61, "queue", "agent", {**queue, **outcome}))
    return lines


class Site:
    """The running site; `url` once `start` returned."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = ""
        self.acd: Acd
        self.app: SupervisorApp
        self.journal: SqliteAgentJournal
        self.tickets: list[dict[str, Any]] = []
        self._token: trio.lowlevel.TrioToken
        self._nursery: trio.Nursery
        self._ready = threading.Event()
        self._stop: trio.Event
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="supervisor-site", daemon=True)

    def now(self) -> datetime:
        """The site's clock (the CTI's, the pages'): 2026-12-01 12:00 UTC, always."""
        return DAY + timedelta(hours=3)

    # -- from the test's thread ----------------------------------------------------------
    def start(self) -> Site:
        self._thread.start()
        self._ready.wait(60)
        if self._failure is not None:
            raise self._failure
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
            self._thread.join(20)

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        return trio.from_thread.run(fn, *args, trio_token=self._token)

    def call(self, call_id: str, queue: str = "general", **data: object) -> None:
        """A caller enters `queue` (and stays until answered or hung up)."""
        leg = MemoryCallLeg(call_id=call_id)
        request = QueueRequest(queue, (), 0, data, None, language="en")

        async def enqueue() -> None:
            with contextlib.suppress(CallEnded):
                await self.acd.enqueue(leg, request)

        self.run_sync(self._nursery.start_soon, enqueue)

    # -- in the site's thread ------------------------------------------------------------
    def _main(self) -> None:
        try:
            trio.run(self._serve)
        except BaseException as exc:
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        agents_file = self.folder / "agents.yaml"
        hashes = {f"h{ext}": hash_password(pw) for ext, pw in PASSWORDS.items()}
        agents_file.write_text(AGENTS_YAML.format(**hashes), encoding="utf-8")
        accounts = load_agents_file(agents_file)
        records_db = self.folder / "calls.sqlite3"
        self.journal = await SqliteAgentJournal.open(self.folder / "agent-journal.sqlite3")
        module = brokerage()
        context = ModuleContext(TENANT, self.folder / "data")
        context.data_dir.mkdir()
        connector = DeskConnector(answer_after=0.2)
        queues = {n: QueueConfig(n, (n,), wrap_up=30, announce_every=None) for n in ("general", "billing")}
        async with (
            open_sqlite_call_records(records_db) as records,
            open_acd(connector, AcdSettings(queues)) as acd,
            trio.open_nursery() as nursery,
        ):
            await self._recorded_calls(records)
            self.tickets = await trio.to_thread.run_sync(self._file_tickets, module.operations, context)
            cti = build_cti_app(acd, records, accounts, connector, journal=self.journal, clock=self)
            await nursery.start(cti.server.run)
            tickets = tickets_of(module.operations, context)
            sources = Sources(TENANT, records_db, tickets=tickets, now=self.now)
            self.acd, self.app, self._nursery = acd, SupervisorApp(cti.server, sources), nursery
            supervisor = self.app

            async def site(scope: Any, receive: Any, send: Any) -> None:
                path = str(scope.get("path", ""))
                await (supervisor if scope["type"] != "lifespan" and supervisor.handles(path) else cti)(
                    scope, receive, send
                )

            async with serving(site) as url:
                self.url = url
                self._ready.set()
                await self._stop.wait()
            nursery.cancel_scope.cancel()

    async def _recorded_calls(self, records: Any) -> None:
        """Four calls of 2026-12-01 09:00-09:30 in queue `general`: a phone order with agent
        8001 (answered after 5 s), a complaint message (no queue), a call 8002 answered after
        30 s, a caller who hung up after 40 s; and one of another tenant's, which must never
        show. Today (the site's clock says 2026-12-01): 3 offered, 2 answered, 1 abandoned,
        service level 50 % (answered within 20 s)."""
        order = {"kind": "agent", "agent": "8001", "agents": ["8001"], "orders": [ORDER]}
        calls = [
            ("call-order", TENANT, "13800000001", "8001", 5, order, "31000001"),
            ("call-complaint", TENANT, "13800000002", None, 0, {"topic": "fees", "account": "31000002"}, ""),
            (
                "call-balance",
                TENANT,
                "13800000003",
                "8002",
                30,
                {"kind": "agent", "agent": "8002"},
                "31000003",
            ),
            ("call-gave-up", TENANT, "13800000005", "", 40, None, "31000005"),
            ("call-other", "other", "13800000001", "8001", 5, order, "31000001"),
        ]
        for minute, (call_id, tenant, caller, agent, wait, metadata, account) in enumerate(calls):
            at = DAY + timedelta(minutes=10 * minute)
            await records.call_started(
                call_id, flow="main", caller=caller, dialed="95500", at=at, tenant=tenant
            )
            for seconds, kind, node, detail in _queue_lines(agent, wait, account):
                await records.call_event(
                    CallEvent(call_id, kind, at + timedelta(seconds=seconds), node, detail)
                )
            if metadata is not None:
                name = f"{call_id}-{'agent' if agent else 'message'}"
                recording = Recording(name, Decimal("1.5"), str(tone(self.folder / f"{name}.wav")), "hangup")
                await records.store_recording(call_id, recording, metadata)
            await records.call_ended(call_id, how="completed", at=at + timedelta(minutes=3))

    @staticmethod
    def _file_tickets(operations: Any, context: ModuleContext) -> list[dict[str, Any]]:
        file = operations["file_complaint"]
        message = "call-complaint-message"
        return [
            file(
                context, caller="13800000002", account="31000002", recording_id=message, topic="fees", now=DAY
            ),
            file(
                context,
                caller="13800000004",
                account="31000004",
                recording_id=message,
                topic="system",
                now=DAY,
            ),
        ]
