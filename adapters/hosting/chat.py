"""The web chat, hosted: /chat/ (one flows folder) or /tenants/<t>/chat/ (a hosting file).

Place: between the HTTP server and `ivr.adapters.chat`. `ChatGate` is an ASGI app:

    GET /chat/           the chat page (index.html) with the widget
    GET /chat/chat.js    the widget, for embedding: <script src=".../chat/chat.js"></script>
    WS  /chat/ws         one chat session: JSON messages (`ivr.adapters.chat.leg`)

Each session is a call: admission decides it like an incoming call to the tenant's first
number (`?number=` picks another of the tenant's numbers), so chats hold seats, get the
tenant's current flows version and are refused (a closing message, then close 1013) when
calls would be. The call record names the channel (a `channel` event: `chat`) and the
caller `chat`. A session ends when the flow ends, the visitor leaves, or they stay silent
for `ChatLimits.idle_seconds`; whatever a session does, other sessions never notice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from ivr.adapters.chat import ChatLeg, ChatLimits
from ivr.adapters.hosting.admission import Admission, Admit
from ivr.adapters.hosting.leg import new_call_id
from ivr.adapters.hosting.tenants import Tenant
from ivr.adapters.static_files import package_file

log = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013


class ChatGate:
    """The chat's ASGI app for every tenant (see the module docstring)."""

    def __init__(
        self,
        admission: Admission,
        tenants: Mapping[str, Tenant],
        *,
        hosted: bool,
        limits: ChatLimits | None = None,
    ) -> None:
        self.admission = admission
        self.tenants = tenants
        self.hosted = hosted
        self.limits = limits or ChatLimits()
        self.app = Starlette(
            routes=[
                Route("/", self._file, methods=["GET", "HEAD"]),
                Route("/{name}", self._file, methods=["GET", "HEAD"]),
                WebSocketRoute("/ws", self._socket),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    async def _file(self, request: Request) -> Response:
        return await package_file(request, "ivr.adapters.chat", {"cache-control": "no-store"})

    def _tenant(self, scope: Scope) -> Tenant | None:
        if self.hosted:
            return self.tenants.get(str(scope.get("path_params", {}).get("tenant", "")))
        return next(iter(self.tenants.values())) if len(self.tenants) == 1 else None

    async def _socket(self, ws: WebSocket) -> None:
        tenant = self._tenant(ws.scope)
        if tenant is None or not tenant.plan.numbers:
            await ws.close(1008)
            return
        asked = ws.query_params.get("number")
        number = asked if asked in tenant.plan.numbers else tenant.plan.numbers[0]
        decision = self.admission.decide(number)
        await ws.accept()
        if not isinstance(decision, Admit):
            await _send(ws, {"type": "end", "refused": decision.reason})
            await ws.close(TRY_AGAIN_LATER)
            return
        leg = ChatLeg(new_call_id(), caller="chat", dialed=number, limits=self.limits)
        self.admission.enter(decision)
        try:
            await self._session(ws, leg, decision)
        finally:
            self.admission.leave(decision)
            with suppress(Exception):  # already closed by the visitor
                await ws.close()

    async def _session(self, ws: WebSocket, leg: ChatLeg, decision: Admit) -> None:
        log.info("chat %s started (tenant %s, flow %s)", leg.call_id, decision.tenant.name, decision.flow)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._visitor, ws, leg)
            sent = trio.Event()
            nursery.start_soon(self._messages, ws, leg, sent)
            await _send(ws, {"type": "started", "session": leg.call_id})
            outcome = await decision.version.engine.run_call(leg, decision.flow)
            await leg.hangup()  # the flow's end is the chat's end
            with trio.move_on_after(5):
                await sent.wait()
            nursery.cancel_scope.cancel()
        log.info("chat %s ended: %s", leg.call_id, outcome.how)

    async def _visitor(self, ws: WebSocket, leg: ChatLeg) -> None:
        """What the visitor sends, until they leave or stay silent too long."""
        while not leg.ended:
            with trio.move_on_after(leg.limits.idle_seconds) as idle:
                message: Any = await ws.receive()
            if idle.cancelled_caught or message["type"] == "websocket.disconnect":
                leg.leave()
                return
            payload = message.get("text")
            leg.receive(payload if payload is not None else bytes(message.get("bytes") or b""))

    async def _messages(self, ws: WebSocket, leg: ChatLeg, sent: trio.Event) -> None:
        """What the flow says, as it says it; `sent` once the leg's last message is out."""
        try:
            async for message in leg.outgoing:
                await _send(ws, message)
        except Exception:  # the visitor's socket is gone: so is the visitor
            leg.leave()
        finally:
            sent.set()


async def _send(ws: WebSocket, message: Mapping[str, object]) -> None:
    await ws.send_text(json.dumps(message, ensure_ascii=False))
