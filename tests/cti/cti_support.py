"""Helpers for the CTI tests: the demo agents, an in-memory transport standing in for the
WebSocket, and a running CTI server over a real ACD with the in-memory `DeskConnector`."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import trio

from ivr.adapters.cti import AgentFile, build_cti_app, load_agents_file
from ivr.adapters.cti.app import CtiApp
from ivr.adapters.cti.session import Session, TransportClosed
from ivr.adapters.cti.testing import DeskConnector
from ivr.runtime.acd import Acd, AcdSettings, QueueConfig, open_acd
from ivr.runtime.ports import QueueRequest
from ivr.runtime.testing import MemoryCallLeg, MemoryCallRecords

DEMO_AGENTS = Path(str(resources.files("ivr.adapters.cti") / "demo_agents.yaml"))
PASSWORDS = {"8001": "demo-8001", "8002": "demo-8002"}
SCREEN = {"customer": "Li Wei", "account": "6222-0012", "pin": "1234", "intent": "balance"}


def demo_agents() -> AgentFile:
    return load_agents_file(DEMO_AGENTS)


class MemoryTransport:
    """Both ends of one in-memory "WebSocket": the session's and the test's."""

    def __init__(self) -> None:
        self._to_server, self._server_in = trio.open_memory_channel[str | bytes | None](math.inf)
        self._to_client, self._client_in = trio.open_memory_channel[str](math.inf)
        self.closed = False

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
        with trio.fail_after(timeout):
            body: dict[str, Any] = json.loads(await self._client_in.receive())
            return body

    async def hear_until(self, predicate: Any, timeout: float = 5) -> dict[str, Any]:
        with trio.fail_after(timeout):
            while True:
                message = await self.hear(timeout)
                if predicate(message):
                    return message

    async def reply_to(self, request_id: object, timeout: float = 5) -> dict[str, Any]:
        return await self.hear_until(lambda m: m.get("reply") == request_id, timeout)

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
    outcomes: dict[str, str] = field(default_factory=dict)

    async def desktop(self, extension: str | None = None) -> MemoryTransport:
        """A connected session; logged in (by token) when `extension` is given."""
        transport = MemoryTransport()
        self.nursery.start_soon(Session(self.app.server, transport).run)
        if extension is not None:
            token = self.app.server.tokens.issue(extension)
            await transport.say({"id": "in", "command": "login", "token": token})
            answer = await transport.reply_to("in")
            assert answer["ok"], answer
        return transport

    def call(self, call_id: str = "call-1", queue: str = "general", **data: object) -> MemoryCallLeg:
        """A caller enters the queue (the enqueue node's `screen` data is `data`)."""
        leg = MemoryCallLeg(call_id=call_id)
        request = QueueRequest(queue, (), 0, data or SCREEN, None)
        self.nursery.start_soon(self._enqueue, leg, request)
        return leg

    async def _enqueue(self, leg: MemoryCallLeg, request: QueueRequest) -> None:
        self.outcomes[leg.call_id] = await self.acd.enqueue(leg, request)


@asynccontextmanager
async def running_cti(answer_after: float = 0.05) -> AsyncIterator[Cti]:
    connector = DeskConnector(answer_after=answer_after)
    records = MemoryCallRecords()
    queues = {name: QueueConfig(name, wrap_up=30, announce_every=None) for name in ("general", "billing")}
    async with open_acd(connector, AcdSettings(queues)) as acd, trio.open_nursery() as nursery:
        app = build_cti_app(acd, records, demo_agents(), connector)
        await nursery.start(app.server.run)
        cti = Cti(app, acd, connector, records, nursery)
        yield cti
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve `app` with hypercorn's trio worker on 127.0.0.1 (a free port); yield its URL."""
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.graceful_timeout = 0.5
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            lambda task_status: serve(app, config, task_status=task_status)
        )
        yield binds[0]
        nursery.cancel_scope.cancel()


async def eventually(check: Any, timeout: float = 10) -> None:
    """Poll `check()` until true (for state outside any event a test can wait on)."""
    with trio.fail_after(timeout):
        while True:
            if check():
                return
            await trio.sleep(0.02)
