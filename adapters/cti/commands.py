"""What each CTI command does, for one logged-in agent.

Place: called by `ivr.adapters.cti.session` with a parsed command (`ivr.adapters.cti.protocol`).
Every check of who may do what is here: an agent acts only on the call it holds (hangup,
transfer) or talked to (wrapup); anything else is a `ProtocolError` with a stable code, and
the connection and every call go on untouched. ACD state rules come from `ivr.runtime.acd`
(`AgentError`), call control from the connector (`CallControl`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import trio

from ivr.adapters.cti.accounts import AgentAccount, authenticate
from ivr.adapters.cti.calls import HandOver, HeldCall, NotConnected, RenamedLeg, innermost
from ivr.adapters.cti.protocol import Hangup, Login, Logout, Ping, ProtocolError, SetState, Transfer, Wrapup
from ivr.adapters.cti.server import CtiServer
from ivr.runtime.acd import AgentError, AgentState
from ivr.runtime.ports import CallEvent, CallLeg, QueueRequest

TRANSFER_RING = Decimal(30)  # seconds a transfer target may ring
Result = dict[str, object]


@dataclass(slots=True)
class Agent:
    """Who the session belongs to, once logged in."""

    account: AgentAccount


async def log_in(server: CtiServer, command: Login) -> tuple[AgentAccount, Result]:
    """Check the token (or extension and password) and log the agent in to the ACD."""
    token = command.token
    if token is not None:
        extension = server.tokens.extension(token)
        account = server.directory.get(extension) if extension is not None else None
    else:
        extension, password = command.extension or "", command.password or ""
        account = await trio.to_thread.run_sync(authenticate, server.directory, extension, password)
        token = server.tokens.issue(account.extension) if account is not None else None
    if account is None:
        raise ProtocolError("auth_failed", "unknown extension, wrong password or expired token")
    if account.extension not in server.acd.statistics().agents:
        server.acd.login(account.extension, account.address, account.skills)
    result: Result = {"agent": {"extension": account.extension, "name": account.name}, "token": token}
    return account, result


async def execute(
    server: CtiServer, agent: Agent, command: Ping | SetState | Hangup | Transfer | Wrapup | Logout
) -> Result:
    match command:
        case Ping():
            return {"pong": True}
        case SetState():
            return _set_state(server, agent.account.extension, command.ready)
        case Hangup():
            return await _hangup(server, agent, command)
        case Transfer():
            return await _transfer(server, agent, command)
        case Wrapup():
            return await _wrapup(server, agent, command)
        case Logout():
            _acd(lambda: server.acd.logout(agent.account.extension))
            return {}


def _set_state(server: CtiServer, extension: str, ready: bool) -> Result:
    acd = server.acd
    _acd(lambda: acd.set_ready(extension) if ready else acd.set_not_ready(extension))
    return {"state": _state(server, extension)}


async def _hangup(server: CtiServer, agent: Agent, command: Hangup) -> Result:
    _own(server, agent, command.call_id)
    try:
        await server.control.hangup(command.call_id)
    except NotConnected as exc:
        raise ProtocolError("no_such_call", f"call {command.call_id} is not connected to you: {exc}") from exc
    return {}


async def _transfer(server: CtiServer, agent: Agent, command: Transfer) -> Result:
    call = _own(server, agent, command.call_id)
    if not call.connected:
        raise ProtocolError("bad_state", "answer the call before transferring it")
    match command.kind:
        case "queue":
            then = _to_queue(server, call, command.destination)
        case "agent":
            then = _to_agent(server, agent, call, command.destination)
        case _:
            then = _to_number(command.destination)
    try:
        await server.control.hand_over(call.call_id, then)
    except NotConnected as exc:
        raise ProtocolError("no_such_call", f"call {call.call_id} is not connected to you: {exc}") from exc
    if command.kind == "agent":
        server.book.reassign(call.call_id, command.destination)
    return {}


def _to_queue(server: CtiServer, call: HeldCall, queue: str) -> HandOver:
    new_id = server.next_transfer_id(call.record_id)
    server.book.record_of[new_id] = call.record_id
    screen = {k: v for k, v in call.screen.items() if k not in ("queue", "caller", "dialed")}
    request = QueueRequest(queue, (), 0, {**screen, "transferred_from": call.agent_id}, None)

    async def then(leg: CallLeg) -> object:
        return await server.acd.enqueue(RenamedLeg(innermost(leg), new_id), request)

    return then


def _to_agent(server: CtiServer, agent: Agent, call: HeldCall, extension: str) -> HandOver:
    target = server.directory.get(extension)
    stats = server.acd.statistics().agents.get(extension)
    if target is None or stats is None or extension == agent.account.extension:
        raise ProtocolError("bad_field", f"agent {extension} is not logged in")
    if stats.state not in (AgentState.READY, AgentState.NOT_READY):
        raise ProtocolError("bad_state", f"agent {extension} is {stats.state.value}")
    if stats.state is AgentState.READY:
        server.acd.set_not_ready(extension)  # no ACD offer while the transfer rings
    screen = {**call.screen, "transferred_from": agent.account.extension}
    server.deliver(
        extension,
        {
            "event": "offered",
            "call_id": call.call_id,
            "queue": call.queue,
            "screen": dict(screen),
            "transfer": True,
        },
    )

    async def then(leg: CallLeg) -> object:
        return await leg.transfer(target.address, mode="bridge", timeout=TRANSFER_RING)

    return then


def _to_number(number: str) -> HandOver:
    async def then(leg: CallLeg) -> object:
        return await leg.transfer(number, mode="bridge", timeout=TRANSFER_RING)

    return then


async def _wrapup(server: CtiServer, agent: Agent, command: Wrapup) -> Result:
    extension = agent.account.extension
    call = server.book.handled(extension, command.call_id)
    if call is None:
        raise ProtocolError("not_your_call", f"you did not talk to call {command.call_id}")
    detail = {
        "agent": extension,
        "disposition": command.disposition,
        "notes": command.notes,
        "queue": call.queue,
        "call": call.call_id,
    }
    event = CallEvent(call.record_id, "agent_wrapup", server.clock.now(), None, detail)
    try:
        await server.records.call_event(event)
    except Exception as exc:
        raise ProtocolError("record_failed", f"the disposition was not saved: {exc}") from exc
    if command.ready and _state(server, extension) in (AgentState.WRAP_UP, AgentState.NOT_READY):
        _acd(lambda: server.acd.set_ready(extension))
    return {"saved": True, "state": _state(server, extension)}


def _own(server: CtiServer, agent: Agent, call_id: str) -> HeldCall:
    call = server.book.owned(agent.account.extension, call_id)
    if call is None:
        raise ProtocolError("not_your_call", f"call {call_id} is not yours")
    return call


def _state(server: CtiServer, extension: str) -> str:
    stats = server.acd.statistics().agents.get(extension)
    return stats.state.value if stats else AgentState.LOGGED_OUT.value


def _acd(action: Callable[[], object]) -> None:
    try:
        action()
    except AgentError as exc:
        raise ProtocolError("bad_state", str(exc)) from exc
