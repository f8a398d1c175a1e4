"""One desktop's CTI session, independent of the WebSocket underneath.

Place: between the wire (`ivr.adapters.cti.websocket` hands it a `Transport`) and the
commands (`ivr.adapters.cti.commands`). A session reads one message at a time and answers
each: bad JSON, unknown or out-of-order commands get an error reply and the session goes
on. `login` goes through `ivr.adapters.cti.auth` (throttled per extension and address, like
POST /cti/login); five failures close the connection. After login, events for the agent
flow out through an outbox that never blocks call routing; a desktop too slow to keep up is
disconnected (it reconnects and logs in with its token). The session ends when its token
expires (`session_ended`), and closing it never touches a call: the caller stays with the
agent's phone.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Protocol

import trio

from ivr.adapters.cti.auth import LoginRefused, password_login, token_login
from ivr.adapters.cti.commands import Agent, execute
from ivr.adapters.cti.protocol import (
    BadRequest,
    Login,
    Ping,
    ProtocolError,
    Request,
    RequestId,
    dumps,
    error_reply,
    parse_request,
    reply,
)
from ivr.adapters.cti.server import CtiServer, Outbox
from ivr.adapters.errors import AdapterError
from ivr.runtime.acd import AgentError, AgentState

log = logging.getLogger(__name__)
MAX_LOGIN_FAILURES = 5
COMMAND_TIME = 45.0


class TransportClosed(AdapterError):
    """The desktop went away; the session ends quietly."""


class Transport(Protocol):
    @property
    def address(self) -> str | None:
        """The client's network address (for login throttling), when known."""
        ...

    async def receive(self) -> str | bytes | None:
        """The next message, or None once the desktop has closed the connection."""
        ...

    async def send(self, text: str) -> None:
        """Send one text message; `TransportClosed` if the desktop is gone."""
        ...


class Session:
    def __init__(self, server: CtiServer, transport: Transport) -> None:
        self.server = server
        self.transport = transport
        self.agent: Agent | None = None
        self.outbox: Outbox | None = None
        self.failures = 0

    async def run(self) -> None:
        """Serve the desktop until it closes, is too slow, fails to log in too often, or
        its login expires."""
        try:
            async with trio.open_nursery() as nursery:
                with suppress(TransportClosed):
                    await self._read(nursery)
                nursery.cancel_scope.cancel()
        finally:
            self._close()

    async def _read(self, nursery: trio.Nursery) -> None:
        while self.failures < MAX_LOGIN_FAILURES:
            message = await self.transport.receive()
            if message is None:
                return
            answer = await self._answer(message, nursery)
            if answer is not None:
                await self._send(answer)

    async def _answer(self, message: str | bytes, nursery: trio.Nursery) -> str | None:
        request = parse_request(message)
        if isinstance(request, BadRequest):
            return error_reply(request.id, request.error)
        answer: str | None = None
        try:
            with trio.CancelScope(shield=True), trio.fail_after(COMMAND_TIME):
                answer = await self._run(request, nursery)
        except ProtocolError as error:
            return error_reply(request.id, error)
        except trio.TooSlowError:
            return error_reply(request.id, ProtocolError("timeout", "the command took too long"))
        except Exception:
            log.exception("CTI command %r failed", type(request.command).__name__)
            return error_reply(request.id, ProtocolError("internal", "the server failed; the call goes on"))
        return answer

    async def _run(self, request: Request, nursery: trio.Nursery) -> str | None:
        command = request.command
        if isinstance(command, Login):
            if self.agent is not None:
                raise ProtocolError("already_logged_in", "this connection is logged in already")
            await self._log_in(request.id, command, nursery)
            return None
        if isinstance(command, Ping):
            return reply(request.id, {"pong": True})
        if self.agent is None:
            raise ProtocolError("not_logged_in", "send `login` first")
        return reply(request.id, await execute(self.server, self.agent, command))

    async def _log_in(self, request_id: RequestId, command: Login, nursery: trio.Nursery) -> None:
        server, address = self.server, self.transport.address
        try:
            if command.token is not None:
                token = command.token
                account = await token_login(server, token, address, "websocket")
            else:
                extension, password = command.extension or "", command.password or ""
                account, token = await password_login(server, extension, password, address, "websocket")
        except LoginRefused as refused:
            self.failures += 1
            error = ProtocolError(refused.code, refused.message)
            if refused.retry_after is not None:
                error.extra["retry_after"] = refused.retry_after
            raise error from refused
        try:
            if account.extension not in server.acd.statistics().agents:
                server.acd.login(account.extension, account.address, account.skills)
        except AgentError as exc:
            raise ProtocolError("bad_state", str(exc)) from exc
        self.agent = Agent(account, token)
        self.outbox = outbox = server.attach(account.extension)
        agent = {"extension": account.extension, "name": account.name, "language": account.language}
        desk = {
            "not_ready_reasons": list(server.settings.not_ready_reasons),
            "language": server.settings.language,
            "flows": [flow.json() for flow in server.flows.values()],
            "orders": _order_form(server),
        }
        outbox.put(reply(request_id, {"agent": agent, "token": token, "desk": desk}))
        for message in server.snapshot(account.extension):
            outbox.put(dumps(message))
        nursery.start_soon(self._write, outbox, nursery.cancel_scope)
        expires = await server.tokens.expires(token)
        if expires is not None:
            nursery.start_soon(self._expire, expires, outbox, nursery.cancel_scope)

    async def _expire(self, at: float, outbox: Outbox, session: trio.CancelScope) -> None:
        await trio.sleep_until(at)
        extension = outbox.extension
        self.server.audit("session_ended", extension, self.transport.address, reason="expired")
        with suppress(TransportClosed):
            await self.transport.send(dumps({"event": "session_ended", "reason": "expired"}))
        session.cancel()

    async def _write(self, outbox: Outbox, session: trio.CancelScope) -> None:
        with suppress(TransportClosed):
            async for text in outbox.receive:
                await self.transport.send(text)
        if outbox.overflowed:
            log.warning("desktop of agent %s fell behind; disconnecting it", outbox.extension)
        session.cancel()

    async def _send(self, text: str) -> None:
        if self.outbox is not None:
            self.outbox.put(text)  # after login, replies keep their order with events
        else:
            await self.transport.send(text)

    def _close(self) -> None:
        if self.outbox is None:
            return
        extension = self.outbox.extension
        if self.server.detach(self.outbox):
            _not_ready_without_desktop(self.server, extension)


def _not_ready_without_desktop(server: CtiServer, extension: str) -> None:
    """The agent's last desktop left: no new offers, but a call in progress goes on."""
    stats = server.acd.statistics().agents.get(extension)
    if stats is not None and stats.state is AgentState.READY:
        try:
            server.acd.set_not_ready(extension, "desktop_closed")
        except AgentError:
            log.exception("could not set agent %s not ready", extension)


def _order_form(server: CtiServer) -> dict[str, object] | None:
    """What the desktop needs to show the order form (None: the desk takes no orders)."""
    form = server.settings.order_form
    if server.orders is None or form is None:
        return None
    return {"readback_flow": form.readback_flow if form.readback_flow in server.flows else None}
