"""Transfers, consultations and conferences: the CTI's side.

Place: called by `ivr.adapters.cti.commands` for the `transfer`, `consult`, `complete` and
`conference` commands, and by the server (`follow_change`) for what a conversation's parties
did. Every target is checked before anything happens (a queue must be configured and
served, an agent logged in and free, a number well formed): a refused transfer is an error
reply and changes nothing. The ACD's books change first (`ivr.runtime.acd`: requeue, offer
to a named agent, consultation, completion, release), then the connector's conversation
(`ivr.adapters.cti.control`) moves the audio. Each transfer leaves `agent_transfer` lines on
the caller's record with its true outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ivr.adapters.cti.calls import HeldCall, NotConnected, Other
from ivr.adapters.cti.control import Change, Dial
from ivr.adapters.cti.protocol import Consult, ProtocolError, TargetKind, Transfer
from ivr.adapters.cti.remote import RoutedControl, not_carried
from ivr.runtime.acd import AgentError, AgentState

if TYPE_CHECKING:
    from ivr.adapters.cti.server import CtiServer

log = logging.getLogger(__name__)
Result = dict[str, object]


async def blind_transfer(server: CtiServer, extension: str, call: HeldCall, command: Transfer) -> Result:
    """The caller goes to the target; the agent is free (wrap-up) at once."""
    _free_for_transfer(call)
    call_id = call.call_id
    routed = _held_elsewhere(server, call_id, "a transfer to an agent", command.kind == "agent")
    match command.kind:
        case "queue" if routed is not None:
            queue = _known_queue(server, command.destination)
            try:
                await routed.transfer_to_queue(call_id, queue)
            except NotConnected as exc:
                raise ProtocolError("transfer_failed", str(exc)) from exc
            server.note(
                call_id, "agent_transfer", agent=extension, mode="blind", queue=queue, outcome="queued"
            )
        case "queue":
            queue = _known_queue(server, command.destination)
            _acd(lambda: server.acd.requeue(call_id, queue))
            server.note(
                call_id, "agent_transfer", agent=extension, mode="blind", queue=queue, outcome="queued"
            )
            await _finish(server, call_id)
        case "agent":
            target = _free_agent(server, extension, command.destination)
            _acd(lambda: server.acd.transfer_to_agent(call_id, target))
            server.note(
                call_id, "agent_transfer", agent=extension, mode="blind", to_agent=target, outcome="ringing"
            )
            await _finish(server, call_id)
        case "number":
            call.other = Other("number", command.destination, blind=True)
            try:
                await server.control.dial_for_caller(call_id, _dial(server, call, command.destination, None))
            except NotConnected as exc:
                call.other = None
                raise ProtocolError("no_such_call", f"call {call_id} is not connected to you: {exc}") from exc
            server.note(call_id, "agent_transfer", agent=extension, mode="blind", number=command.destination)
    return {}


async def consult(server: CtiServer, extension: str, call: HeldCall, command: Consult) -> Result:
    """Ring a second agent (by name, or the one a queue would pick) or a number while the
    caller holds; its answer comes later (`call_state`)."""
    _free_for_transfer(call)
    call_id = call.call_id
    _held_elsewhere(server, call_id, "a consultation", True)
    target = _consult_target(server, extension, command.kind, command.destination)
    if target is None:
        call.other = Other("number", command.destination)
        address = command.destination
    else:
        account = server.directory.get(target)
        assert account is not None  # _consult_target checked it
        _acd(lambda: server.acd.consult(call_id, target))
        call.other, address = Other("agent", target), account.address
    call.mode = "consult"
    try:
        await server.control.consult(call_id, _dial(server, call, address, target))
    except NotConnected as exc:
        call.other, call.mode = None, "talk"
        if target is not None:
            _acd(lambda: server.acd.consult_ended(call_id, "failed"))
        raise ProtocolError("no_such_call", f"call {call_id} cannot consult now: {exc}") from exc
    server.note(call_id, "agent_consult", agent=extension, to=call.other.target, kind=call.other.kind)
    server.show_calls(extension)
    return {"other": {"kind": call.other.kind, "target": call.other.target, "state": "ringing"}}


async def complete(server: CtiServer, extension: str, call: HeldCall) -> Result:
    """The caller talks with the consulted party; the agent leaves (wrap-up)."""
    _talking_other(call)
    try:
        await server.control.hand_to_other(call.call_id)
    except NotConnected as exc:
        raise ProtocolError("bad_state", str(exc)) from exc
    return {}


async def conference(server: CtiServer, extension: str, call: HeldCall) -> Result:
    """Caller, agent and the consulted party all hear each other."""
    other = _talking_other(call)
    try:
        await server.control.conference(call.call_id)
    except NotConnected as exc:
        raise ProtocolError("bad_state", str(exc)) from exc
    call.mode, call.held = "conference", False
    if other.kind == "agent":
        server.book.remember(other.target, call)  # the consulted agent talked with the caller
    server.note(call.call_id, "agent_conference", agent=extension, other=other.target)
    server.show_calls(extension, *([other.target] if other.kind == "agent" else []))
    return {}


def follow_change(server: CtiServer, call_id: str, change: Change) -> None:
    """Keep the ACD and the desktops in step with what a conversation's parties did."""
    call = server.book.held.get(call_id)
    other = call.other if call is not None else None
    agent_other = other is not None and other.kind == "agent"
    acd = server.acd
    try:
        if change == "other_answered":
            if other is not None:
                other.talking = True
            if agent_other:
                acd.consult_answered(call_id)
            _note_outcome(server, call_id, other, "connected")
        elif change in ("other_no_answer", "other_busy", "other_failed"):
            outcome = change.removeprefix("other_")
            if agent_other:
                acd.consult_ended(call_id, outcome)  # type: ignore[arg-type]  # the book follows the ACD
            elif call is not None:
                call.other, call.mode = None, "talk"
            _note_outcome(server, call_id, other, outcome)
            if other is not None and other.blind and call is not None:
                _back_to_queue(server, call)
        elif change == "other_left":
            if agent_other:
                acd.consult_ended(call_id)
            elif call is not None:
                call.other, call.mode = None, "talk"
        elif change == "agent_left":
            if agent_other and other is not None and other.talking:
                acd.complete_transfer(call_id)
            else:
                acd.release_agent(call_id)
                if other is not None:
                    other.blind = True
            _note_outcome(server, call_id, other, "handed_over")
    except AgentError as exc:
        log.warning("call %s: the ACD could not follow %s: %s", call_id, change, exc)
    if call is not None:
        server.show_calls(*(a for a in (call.agent_id, other.target if agent_other and other else None) if a))


# -- checks ------------------------------------------------------------------------------
def _held_elsewhere(server: CtiServer, call_id: str, what: str, refused: bool) -> RoutedControl | None:
    """The desktop's control when the call is held at another instance of a shared center
    (None: held here); `refused` when `what` cannot reach such a call."""
    control = server.control
    if not isinstance(control, RoutedControl) or not control.held_elsewhere(call_id):
        return None
    if refused:
        raise ProtocolError("transfer_failed", not_carried(call_id, what))
    return control


def _free_for_transfer(call: HeldCall) -> None:
    if not call.connected:
        raise ProtocolError("bad_state", "answer the call before transferring it")
    if call.other is not None:
        raise ProtocolError("bad_state", "finish the consultation first (complete, conference or hang it up)")


def _talking_other(call: HeldCall) -> Other:
    if call.other is None or not call.other.talking:
        raise ProtocolError("bad_state", "consult someone first, and wait until they answer")
    return call.other


def _known_queue(server: CtiServer, queue: str) -> str:
    if not server.acd.knows_queue(queue):
        known = ", ".join(sorted(server.acd.statistics().queues)) or "none"
        raise ProtocolError("unknown_queue", f"there is no queue {queue!r} (queues: {known})")
    return queue


def _free_agent(server: CtiServer, extension: str, target: str) -> str:
    if server.directory.get(target) is None:
        raise ProtocolError("unknown_agent", f"there is no agent {target!r}")
    if target == extension:
        raise ProtocolError("bad_field", "that is you; pick another agent")
    stats = server.acd.statistics().agents.get(target)
    if stats is None:
        raise ProtocolError("transfer_failed", f"agent {target} is not logged in")
    if stats.state not in (AgentState.READY, AgentState.NOT_READY):
        raise ProtocolError("transfer_failed", f"agent {target} is busy ({stats.state.value})")
    return target


def _consult_target(server: CtiServer, extension: str, kind: TargetKind, destination: str) -> str | None:
    """The agent to consult (None for a number)."""
    if kind == "agent":
        return _free_agent(server, extension, destination)
    if kind == "queue":
        queue = _known_queue(server, destination)
        endpoint = server.acd.consult_agent_for(queue)
        if endpoint is None or endpoint.agent_id == extension:
            raise ProtocolError(
                "transfer_failed",
                f"no agent of queue {queue} is free now; transfer the caller to the queue instead",
            )
        return endpoint.agent_id
    return None


# -- helpers -----------------------------------------------------------------------------
def _dial(server: CtiServer, call: HeldCall, address: str, agent_id: str | None) -> Dial:
    screen = {**call.screen, "transferred_from": call.agent_id}
    caller = str(call.screen.get("caller", ""))
    return Dial(address, screen, agent_id, call.call_id, caller)


async def _finish(server: CtiServer, call_id: str) -> None:
    """End the agent's side after the ACD moved the caller (a caller who hung up meanwhile
    ended it already)."""
    try:
        await server.control.finish(call_id)
    except NotConnected:
        log.info("call %s ended before its transfer: nothing to hang up", call_id)


def _back_to_queue(server: CtiServer, call: HeldCall) -> None:
    """A blind transfer to a number that did not answer: the caller waits in its queue."""
    try:
        server.acd.requeue(call.call_id, call.queue)
    except AgentError as exc:
        server.note(call.call_id, "agent_transfer", outcome="lost", reason=str(exc))
        return
    server.note(call.call_id, "agent_transfer", outcome="requeued", queue=call.queue)


def _note_outcome(server: CtiServer, call_id: str, other: Other | None, outcome: str) -> None:
    if other is None:
        return
    kind = "agent_transfer" if other.blind or outcome == "handed_over" else "agent_consult"
    server.note(call_id, kind, to=other.target, kind=other.kind, outcome=outcome)


def _acd(action: Callable[[], object]) -> None:
    try:
        action()
    except AgentError as exc:
        raise ProtocolError("transfer_failed", str(exc)) from exc
