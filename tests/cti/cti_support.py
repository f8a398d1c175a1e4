"""Helpers for the CTI tests: the demo agents, an in-memory transport standing in for the
WebSocket, and a running CTI server over a real ACD with the in-memory `DeskConnector`
(queues `general` and `billing`; both demo agents serve both)."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import trio
from asgi_support import serving as serving  # the suites' tests import it from here

from ivr.adapters.cti import AgentFile, DeskSettings, MemoryAgentJournal, build_cti_app, load_agents_file
from ivr.adapters.cti.app import CtiApp
from ivr.adapters.cti.flows import DeskFlow
from ivr.adapters.cti.orders import OrderDesk
from ivr.adapters.cti.session import Session, TransportClosed
from ivr.adapters.cti.testing import DeskConnector, DeskMedia
from ivr.adapters.history import HistoryReader
from ivr.runtime.acd import Acd, AcdSettings, AgentState, QueueConfig, open_acd
from ivr.runtime.ports import CallChannel, CallEnded, QueueRequest
from ivr.runtime.testing import MemoryCallLeg, MemoryCallRecords

DEMO_AGENTS = Path(str(resources.files("ivr.adapters.cti") / "demo_agents.yaml"))
PASSWORDS = {"8001": "demo-8001", "8002": "demo-8002"}
SCREEN = {"customer": "Li Wei", "account": "6222-0012", "pin": "1234", "intent": "balance"}


def demo_agents() -> AgentFile:
    return load_agents_file(DEMO_AGENTS)


class MemoryTransport:
    """Both ends of one in-memory "WebSocket": the session's and the test's."""

    address = "192.0.2.7"

    def __init__(self) -> None:
        self._to_server, self._server_in = trio.open_memory_channel[str | bytes | None](math.inf)
        self._to_client, self._client_in = trio.open_memory_channel[str](math.inf)
        self.closed = False
        self.pending: list[dict[str, Any]] = []

    # the session's side (Transport)
    async def receive(self) -> str | bytes | None:
        return await self._server_in.receive()

    async def send(self, text: str) -> None:
        if self.closed:
            raise TransportClosed("closed")
        await self._to_client.send(text)

    # the test's side
    async def say(self, message: dict[str, Any] | str | bytes) -> None:
        await self._to_server.send(message if isinstance(message, str | bytes) else json.dumps(message))

    async def hear(self, timeout: float = 5) -> dict[str, Any]:
        """The next message (one put aside by `hear_until` first)."""
        if self.pending:
            return self.pending.pop(0)
        with trio.fail_after(timeout):
            body: dict[str, Any] = json.loads(await self._client_in.receive())
            return body

    async def hear_until(self, predicate: Any, timeout: float = 5) -> dict[str, Any]:
        """The first message that fits; the others are kept, in order, for later."""
        for index, message in enumerate(self.pending):
            if predicate(message):
                return self.pending.pop(index)
        with trio.fail_after(timeout):
            while True:
                message = json.loads(await self._client_in.receive())
                if predicate(message):
                    return dict(message)
                self.pending.append(message)

    def forget(self) -> None:
        """Drop what was put aside (the test saw enough of the past)."""
        self.pending.clear()

    async def reply_to(self, request_id: object, timeout: float = 5) -> dict[str, Any]:
        return await self.hear_until(lambda m: m.get("reply") == request_id, timeout)

    async def event(self, name: str, timeout: float = 5, **fields: object) -> dict[str, Any]:
        """The next event `name` whose fields match `fields`."""
        return await self.hear_until(
            lambda m: m.get("event") == name and all(m.get(k) == v for k, v in fields.items()), timeout
        )

    async def command(self, command: str, **fields: object) -> dict[str, Any]:
        """Send a command and return its reply (ok or not)."""
        self.sent = getattr(self, "sent", 0) + 1
        request_id = f"c{self.sent}"
        await self.say({"id": request_id, "command": command, **fields})
        return await self.reply_to(request_id)

    async def ok(self, command: str, **fields: object) -> dict[str, Any]:
        answer = await self.command(command, **fields)
        assert answer["ok"], answer
        return answer

    async def hang_up(self) -> None:
        self.closed = True
        await self._to_server.send(None)


@dataclass
class Cti:
    app: CtiApp
    acd: Acd
    connector: DeskConnector
    records: MemoryCallRecords
    nursery: trio.Nursery
    journal: MemoryAgentJournal
    outcomes: dict[str, str] = field(default_factory=dict)

    async def desktop(self, extension: str | None = None) -> MemoryTransport:
        """A connected session; logged in (by token) when `extension` is given."""
        transport = MemoryTransport()
        self.nursery.start_soon(Session(self.app.server, transport).run)
        if extension is not None:
            token = await self.app.server.tokens.issue(extension)
            await transport.say({"id": "in", "command": "login", "token": token})
            answer = await transport.reply_to("in")
            assert answer["ok"], answer
        return transport

    def call(
        self, call_id: str = "call-1", queue: str = "general", channel: CallChannel = "phone", **data: object
    ) -> MemoryCallLeg:
        """A caller enters the queue (the enqueue node's `screen` data is `data`), having come
        by `channel`."""
        leg = MemoryCallLeg(call_id=call_id)
        request = QueueRequest(queue, (), 0, data or SCREEN, None, language="zh", channel=channel)
        self.nursery.start_soon(self._enqueue, leg, request)
        return leg

    async def _enqueue(self, leg: MemoryCallLeg, request: QueueRequest) -> None:
        try:
            self.outcomes[leg.call_id] = await self.acd.enqueue(leg, request)
        except CallEnded:
            self.outcomes[leg.call_id] = "hung_up"

    def state(self, extension: str) -> AgentState:
        return self.acd.statistics().agents[extension].state

    def media(self, call_id: str) -> DeskMedia:
        return self.connector.media[call_id]

    async def talking(self, extension: str, call_id: str, *, ready: bool = True) -> MemoryTransport:
        """A desktop for `extension`, made ready, talking with the caller `call_id`."""
        desk = await self.desktop(extension)
        if ready:
            await desk.ok("state", state="ready")
        self.call(call_id)
        await desk.event("connected", call_id=call_id)
        return desk


@asynccontextmanager
async def running_cti(
    answer_after: float = 0.05,
    *,
    wrap_up: float = 30,
    settings: DeskSettings | None = None,
    flows: Mapping[str, DeskFlow] | None = None,
    orders: OrderDesk | None = None,
    history: HistoryReader | None = None,
) -> AsyncIterator[Cti]:
    connector = DeskConnector(answer_after=answer_after)
    records = MemoryCallRecords()
    queues = {
        name: QueueConfig(name, (name,), wrap_up=wrap_up, announce_every=None)
        for name in ("general", "billing")
    }
    async with open_acd(connector, AcdSettings(queues)) as acd, trio.open_nursery() as nursery:
        journal = MemoryAgentJournal()
        app = build_cti_app(
            acd,
            records,
            demo_agents(),
            connector,
            settings=settings,
            journal=journal,
            flows=flows,
            orders=orders,
            history=history,
        )
        await nursery.start(app.server.run)
        cti = Cti(app, acd, connector, records, nursery, journal)
        yield cti
        nursery.cancel_scope.cancel()


async def eventually(check: Any, timeout: float = 10) -> None:
    """Poll `check()` until true (for state outside any event a test can wait on)."""
    with trio.fail_after(timeout):
        while True:
            if check():
                return
            await trio.sleep(0.02)
