"""What each CTI command does, for one logged-in agent.

Place: called by `ivr.adapters.cti.session` with a parsed command (`ivr.adapters.cti.protocol`).
Every check of who may do what is here: an agent acts on the call it holds (hang-up, hold,
mute, keypad, transfers), leaves a call it was consulted on, and wraps up only calls it
talked to; anything else is a `ProtocolError` with a stable code, and the connection and
every call go on untouched. ACD state rules come from `ivr.runtime.acd` (`AgentError`), call
control from the connector (`CallControl`), transfers from `ivr.adapters.cti.transfers`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import trio

from ivr.adapters.cti import ordering
from ivr.adapters.cti.accounts import AgentAccount
from ivr.adapters.cti.calls import HeldCall, NotConnected
from ivr.adapters.cti.control import FlowNotAllowed
from ivr.adapters.cti.protocol import (
    AnswerChat,
    CallCommand,
    ChatText,
    CheckOrder,
    Complete,
    Conference,
    Consult,
    Dtmf,
    ExtendWrapup,
    Hangup,
    HistoryQuery,
    Hold,
    Logout,
    Mute,
    Ping,
    PlaceOrder,
    ProtocolError,
    QuoteCode,
    SendToFlow,
    SetState,
    Transfer,
    Wrapup,
)
from ivr.adapters.cti.server import CtiServer
from ivr.adapters.cti.transfers import blind_transfer, complete, conference, consult
from ivr.adapters.history import SECTIONS, History, Who
from ivr.runtime.acd import AgentError, AgentState
from ivr.runtime.ports import CallEvent

Result = dict[str, object]
_ON_A_CALL = (AgentState.RESERVED, AgentState.ON_CALL)


@dataclass(slots=True)
class Agent:
    """Who the session belongs to, once logged in, and with which token."""

    account: AgentAccount
    token: str


async def execute(
    server: CtiServer,
    agent: Agent,
    command: SetState | CallCommand | Wrapup | ExtendWrapup | HistoryQuery | Ping | Logout,
) -> Result:
    extension = agent.account.extension
    match command:
        case Ping():
            return {"pong": True}
        case SetState():
            return _set_state(server, extension, command)
        case Hangup():
            return await _hangup(server, extension, command)
        case AnswerChat() | ChatText():
            return await _chat(server, extension, command)
        case Wrapup():
            return await _wrapup(server, extension, command)
        case ExtendWrapup():
            _acd(lambda: server.acd.extend_wrap_up(extension, command.seconds))
            return {"state": _state(server, extension)}
        case Logout():
            _acd(lambda: server.acd.logout(extension))
            await server.tokens.revoke(agent.token)
            server.audit("logout", extension)
            return {}
        case HistoryQuery():
            return await _history(server, extension, command)
    call = _own(server, extension, command.call_id)
    match command:
        case Transfer():
            return await blind_transfer(server, extension, call, command)
        case Consult():
            return await consult(server, extension, call, command)
        case Complete():
            return await complete(server, extension, call)
        case Conference():
            return await conference(server, extension, call)
        case Hold() | Mute() | Dtmf():
            return await _control(server, extension, call, command)
        case SendToFlow():
            return await _send_to_flow(server, extension, call, command)
        case QuoteCode():
            return await ordering.quote(server, call, command)
        case CheckOrder():
            return await ordering.check_order(server, extension, call, command)
        case PlaceOrder():
            return await ordering.place_order(server, extension, call, command)
    raise ProtocolError("unknown_command", f"{type(command).__name__} is not a call command")


def _set_state(server: CtiServer, extension: str, command: SetState) -> Result:
    acd, reason = server.acd, command.reason
    if not command.ready and reason is not None and reason not in server.settings.not_ready_reasons:
        reasons = ", ".join(server.settings.not_ready_reasons)
        raise ProtocolError("bad_field", f"not-ready reasons are {reasons}")
    on_a_call = _agent_state(server, extension) in _ON_A_CALL
    if command.after_call and on_a_call:
        wish = None if command.ready else reason or ""
        _acd(lambda: acd.not_ready_after_call(extension, wish))
    elif command.ready:
        _acd(lambda: acd.set_ready(extension))
    else:
        _acd(lambda: acd.set_not_ready(extension, reason))
    return {"state": _state(server, extension)}


async def _hangup(server: CtiServer, extension: str, command: Hangup) -> Result:
    call = server.book.held.get(command.call_id)
    role = call.role_of(extension) if call is not None else None
    if role is None:
        raise ProtocolError("not_your_call", f"call {command.call_id} is not yours")
    control = server.control
    try:
        if role == "agent" and command.leg == "self":
            await control.hangup(command.call_id)
        elif role == "agent" or command.leg == "self":  # the consulted party leaves
            await control.drop_other(command.call_id)
        else:
            raise ProtocolError("not_your_call", "only the call's agent hangs up the consulted party")
    except NotConnected as exc:
        raise ProtocolError("no_such_call", f"call {command.call_id} is not connected to you: {exc}") from exc
    return {}


async def _chat(server: CtiServer, extension: str, command: AnswerChat | ChatText) -> Result:
    """A web chat's commands (`ivr.adapters.chat.agents`): answer it, write to the visitor."""
    call = server.book.held.get(command.call_id)
    if call is None or call.role_of(extension) != "agent":
        raise ProtocolError("not_your_call", f"call {command.call_id} is not yours")
    control = server.control
    answer, say = getattr(control, "answer_chat", None), getattr(control, "say_in_chat", None)
    if answer is None or say is None:
        raise ProtocolError("bad_state", "this desk carries no chats")
    try:
        if isinstance(command, AnswerChat):
            await answer(command.call_id, extension)
        else:
            await say(command.call_id, extension, command.text)
    except NotConnected as exc:
        raise ProtocolError("bad_state", str(exc)) from exc
    return {}


async def _control(server: CtiServer, extension: str, call: HeldCall, command: Hold | Mute | Dtmf) -> Result:
    if not call.connected:
        raise ProtocolError("bad_state", "answer the call first")
    control = server.control
    try:
        match command:
            case Hold():
                await control.hold(call.call_id, command.on)
                if call.held != command.on:  # the hold time of reports (docs/reports.md)
                    server.note(call.call_id, "agent_hold", agent=extension, on=command.on)
                call.held = command.on
            case Mute():
                await control.mute(call.call_id, command.on)
                call.muted = command.on
            case Dtmf():
                await control.send_dtmf(call.call_id, command.digits)
                return {"sent": command.digits}
    except NotConnected as exc:
        raise ProtocolError("bad_state", str(exc)) from exc
    server.show_calls(extension)
    return {"held": call.held, "muted": call.muted}


async def _send_to_flow(server: CtiServer, extension: str, call: HeldCall, command: SendToFlow) -> Result:
    """The caller goes into one of the service's agent flows, with what the call's data
    gives the flow's inputs (the command's `inputs` win); the result comes as `flow_result`."""
    if not call.connected:
        raise ProtocolError("bad_state", "answer the call first")
    flow = server.flows.get(command.flow)
    if flow is None:
        offered = ", ".join(sorted(server.flows)) or "none"
        raise ProtocolError(
            "unknown_flow", f"there is no agent flow {command.flow!r} (agent flows: {offered})"
        )
    if call.in_flow is not None:
        raise ProtocolError("bad_state", f"the caller is in the flow {call.in_flow} already")
    facts = call.facts
    inputs = {name: facts[name] for name in flow.inputs if name in facts} | dict(command.inputs)
    try:
        await server.control.send_to_flow(call.call_id, flow.name, inputs)
    except FlowNotAllowed as exc:
        raise ProtocolError("flow_refused", str(exc)) from exc
    except NotConnected as exc:
        raise ProtocolError("bad_state", str(exc)) from exc
    call.in_flow = flow.name
    call.flow_inputs[flow.name] = inputs
    server.note(call.call_id, "agent_sent_to_flow", agent=extension, flow=flow.name)
    server.show_calls(extension)
    return {"flow": flow.name}


async def _wrapup(server: CtiServer, extension: str, command: Wrapup) -> Result:
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
    event = CallEvent(call.call_id, "agent_wrapup", server.clock.now(), None, detail)
    try:
        with trio.fail_after(10):
            await server.records.call_event(event)
    except Exception as exc:
        raise ProtocolError("record_failed", f"the disposition was not saved: {exc}") from exc
    _next_state(server, extension, command)
    return {"saved": True, "call_id": call.call_id, "state": _state(server, extension)}


def _next_state(server: CtiServer, extension: str, command: Wrapup) -> None:
    """ "Ready for the next call" ticked or not: ready, or not ready (after the call the agent
    may be on by now)."""
    acd, state = server.acd, _agent_state(server, extension)
    reason = command.reason if command.reason in server.settings.not_ready_reasons else None
    if state in _ON_A_CALL:
        if not command.ready:
            _acd(lambda: acd.not_ready_after_call(extension, reason or ""))
    elif command.ready and state in (AgentState.WRAP_UP, AgentState.NOT_READY):
        _acd(lambda: acd.set_ready(extension))
    elif not command.ready and state in (AgentState.WRAP_UP, AgentState.READY):
        _acd(lambda: acd.set_not_ready(extension, reason))


async def _history(server: CtiServer, extension: str, command: HistoryQuery) -> Result:
    """The customer's history: the caller of a call offered to, held by or just handled by
    this agent, or an account searched for. The reader is this tenant's (its stores, its
    call records only), so another tenant's customers are never found. Each look-up is a
    line in the agents' journal (who looked at whom)."""
    reader = server.history
    if reader is None:
        raise ProtocolError("unavailable", "this desk has no customer history")
    if command.call_id:
        call = server.book.owned(extension, command.call_id) or server.book.handled(
            extension, command.call_id
        )
        if call is None:
            raise ProtocolError("not_your_call", f"call {command.call_id} is not yours")
        who = Who(account=_screen_text(call, "account"), caller=_screen_text(call, "caller"))
    else:
        who = Who(account=command.account)
    sections = (command.section,) if command.section else SECTIONS
    history: History = await trio.to_thread.run_sync(
        lambda: reader.read_sections(who, sections, before=command.before),
        limiter=server.history_limiter,
    )
    if command.account and not history.customer.known:
        raise ProtocolError("no_such_customer", f"no customer with account {command.account}")
    server.audit("history", extension, call_id=command.call_id or None, account=who.account or None)
    return {"history": history.as_json(), "summary": history.summary()}


def _screen_text(call: HeldCall, key: str) -> str:
    value = call.screen.get(key)
    return str(value)[:64] if isinstance(value, str | int) and not isinstance(value, bool) else ""


def _own(server: CtiServer, extension: str, call_id: str) -> HeldCall:
    call = server.book.owned(extension, call_id)
    if call is None:
        raise ProtocolError("not_your_call", f"call {call_id} is not yours")
    return call


def _agent_state(server: CtiServer, extension: str) -> AgentState:
    stats = server.acd.statistics().agents.get(extension)
    return stats.state if stats else AgentState.LOGGED_OUT


def _state(server: CtiServer, extension: str) -> str:
    return _agent_state(server, extension).value


def _acd(action: Callable[[], object]) -> None:
    try:
        action()
    except AgentError as exc:
        raise ProtocolError("bad_state", str(exc)) from exc
