"""The desktop's call controls for calls held at another instance of the center.

Place: between the CTI's commands (`ivr.adapters.cti.commands`) and the call control of
the agent connector (`ivr.adapters.cti.control.CallControl`), when a shared ACD is in use
(docs/cluster.md, "Call controls across instances"). The caller's leg, and the
conversation with the agent's phone, live at the instance the call arrived at; the
agent's desktop may be here. `RoutedControl` is this instance's `CallControl`: a call
held here goes to the connector as before; a call the local `Acd` follows for another
instance (`Acd.held_elsewhere`) is sent there (`CommandSender`, the shared ACD's
`RemoteCommands`), and the reason it failed comes back as `NotConnected`, which the
commands turn into the desktop's error reply. `carry_out` is the other end: it runs a
command received for a call held here on the connector.

Carried across: hang-up (declines a ringing call too), hold and resume, mute, keypad, a
blind transfer to a queue (`transfer_to_queue`: the other instance's shared ACD puts its
caller in that queue when the conversation ends) and a blind transfer to a number (the
agent's part ends at once; a number that does not answer sends the caller back to its
queue there: `OwnerListener`). Transfers to an agent, consultations, conferences and flows
need the other instance's conversation to report back to this desktop as it goes; they
are refused with a clear message for now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ivr.adapters.cti.calls import NotConnected
from ivr.adapters.cti.control import CallControl, CallListener, Change, Dial
from ivr.adapters.errors import AdapterError
from ivr.runtime.acd import AgentError
from ivr.runtime.ports import FlowResult

NOT_CARRIED = (
    "is not carried across instances yet"
    " (hang-up, hold, mute, keypad and transfers to a queue or a number are)"
)


class CommandSender(Protocol):
    """Carries one command to the instance holding the call and waits for its outcome;
    raises `AdapterError` with the reason (the owner gone, the call ended, refused)."""

    async def send(self, call_id: str, command: str, args: Mapping[str, object]) -> None: ...


class HeldCalls(Protocol):
    """What the instance holding the calls does for transfers asked from elsewhere (its
    shared ACD: `ivr.runtime.acd.shared_acd.SharedAcd`)."""

    def transfer_to_queue(self, call_id: str, queue: str) -> None: ...

    async def release_agent(self, call_id: str) -> None: ...

    def back_to_queue(self, call_id: str) -> None: ...

    def released(self, call_id: str) -> bool: ...

    def agent_elsewhere(self, call_id: str) -> bool: ...


class OwnerListener:
    """The `CallListener` of the instance holding shared calls: what the parties of a call
    whose agent's desktop is elsewhere do is that instance's business (the desktop's own
    CTI has the books); a number a released caller was sent to that does not answer sends
    it back to its queue. Everything else goes to this instance's CTI (`inner`)."""

    def __init__(self, inner: CallListener, held: HeldCalls) -> None:
        self.inner = inner
        self.held = held

    def deliver(self, extension: str, message: Mapping[str, object]) -> None:
        """Desktop messages of chats (`ChatAgentLine`): this instance's desktops."""
        deliver = getattr(self.inner, "deliver", None)
        if deliver is not None:
            deliver(extension, message)

    def call_changed(self, call_id: str, change: Change) -> None:
        if change in ("other_no_answer", "other_busy", "other_failed") and self.held.released(call_id):
            self.held.back_to_queue(call_id)
        if not self.held.agent_elsewhere(call_id):
            self.inner.call_changed(call_id, change)

    def flow_ended(self, call_id: str, result: FlowResult) -> None:
        self.inner.flow_ended(call_id, result)


class Following(Protocol):
    """What `RoutedControl` asks the local ACD (`ivr.runtime.acd.Acd`)."""

    def held_elsewhere(self, call_id: str) -> bool: ...


class RoutedControl:
    """`CallControl` for a desktop of a shared center (see the module docstring)."""

    def __init__(self, local: CallControl, acd: Following, remote: CommandSender) -> None:
        self.local = local
        self._acd = acd
        self._remote = remote

    def _elsewhere(self, call_id: str) -> bool:
        return self._acd.held_elsewhere(call_id)

    async def _send(self, call_id: str, command: str, **args: object) -> None:
        try:
            await self._remote.send(call_id, command, args)
        except AdapterError as exc:
            raise NotConnected(str(exc)) from exc

    @staticmethod
    def _not_carried(call_id: str, what: str) -> NotConnected:
        return NotConnected(not_carried(call_id, what))

    def held_elsewhere(self, call_id: str) -> bool:
        return self._elsewhere(call_id)

    async def transfer_to_queue(self, call_id: str, queue: str) -> None:
        """A blind transfer of a call held at another instance to `queue` (that instance
        ends the conversation and queues its caller)."""
        await self._send(call_id, "transfer_queue", queue=queue)

    def listen(self, listener: CallListener) -> None:
        self.local.listen(listener)

    async def hangup(self, call_id: str) -> None:
        if self._elsewhere(call_id):
            await self._send(call_id, "hangup")
        else:
            await self.local.hangup(call_id)

    async def finish(self, call_id: str) -> None:
        if self._elsewhere(call_id):
            raise self._not_carried(call_id, "a transfer")
        await self.local.finish(call_id)

    async def hold(self, call_id: str, on: bool) -> None:
        if self._elsewhere(call_id):
            await self._send(call_id, "hold", on=on)
        else:
            await self.local.hold(call_id, on)

    async def mute(self, call_id: str, on: bool) -> None:
        if self._elsewhere(call_id):
            await self._send(call_id, "mute", on=on)
        else:
            await self.local.mute(call_id, on)

    async def send_dtmf(self, call_id: str, digits: str) -> None:
        if self._elsewhere(call_id):
            await self._send(call_id, "send_dtmf", digits=digits)
        else:
            await self.local.send_dtmf(call_id, digits)

    async def consult(self, call_id: str, target: Dial) -> None:
        if self._elsewhere(call_id):
            raise self._not_carried(call_id, "a consultation")
        await self.local.consult(call_id, target)

    async def conference(self, call_id: str) -> None:
        if self._elsewhere(call_id):
            raise self._not_carried(call_id, "a conference")
        await self.local.conference(call_id)

    async def drop_other(self, call_id: str) -> None:
        if self._elsewhere(call_id):
            raise self._not_carried(call_id, "a consultation")
        await self.local.drop_other(call_id)

    async def hand_to_other(self, call_id: str) -> None:
        if self._elsewhere(call_id):
            raise self._not_carried(call_id, "a transfer")
        await self.local.hand_to_other(call_id)

    async def dial_for_caller(self, call_id: str, target: Dial) -> None:
        if self._elsewhere(call_id):
            if target.agent_id is not None:
                raise self._not_carried(call_id, "a transfer to an agent")
            await self._send(
                call_id,
                "dial_for_caller",
                address=target.address,
                screen=dict(target.screen),
                caller=target.caller,
            )
        else:
            await self.local.dial_for_caller(call_id, target)

    async def send_to_flow(self, call_id: str, flow: str, inputs: Mapping[str, object]) -> None:
        if self._elsewhere(call_id):
            raise self._not_carried(call_id, "sending the caller into a flow")
        await self.local.send_to_flow(call_id, flow, inputs)

    def label_recording(self, call_id: str, key: str, value: str) -> str | None:
        if self._elsewhere(call_id):
            return None  # the recording is the other instance's
        return self.local.label_recording(call_id, key, value)

    # -- the chat commands of `ivr.adapters.chat.agents.ChatAgentLine` (chats are local) -----
    async def answer_chat(self, call_id: str, agent_id: str) -> None:
        await self._chat(call_id, "answer_chat")(call_id, agent_id)

    async def say_in_chat(self, call_id: str, agent_id: str, text: str) -> None:
        await self._chat(call_id, "say_in_chat")(call_id, agent_id, text)

    def _chat(self, call_id: str, name: str) -> Any:
        method = getattr(self.local, name, None)
        if method is None or self._elsewhere(call_id):
            raise NotConnected(f"call {call_id} is not a chat of this instance")
        return method


def not_carried(call_id: str, what: str) -> str:
    return f"call {call_id} is held at another instance of the center: {what} of such a call {NOT_CARRIED}"


async def carry_out(
    control: CallControl,
    call_id: str,
    command: str,
    args: Mapping[str, Any],
    held: HeldCalls | None = None,
) -> None:
    """Run a command received from another instance's desktop on the call held here
    (`NotConnected` with the reason when the call cannot do it now)."""
    match command:
        case "transfer_queue" if held is not None:
            try:
                held.transfer_to_queue(call_id, str(args.get("queue", "")))
            except AgentError as exc:
                raise NotConnected(str(exc)) from exc
            await control.finish(call_id)
        case "dial_for_caller" if held is not None:
            screen = args.get("screen")
            target = Dial(
                str(args.get("address", "")),
                dict(screen) if isinstance(screen, Mapping) else {},
                None,
                call_id,
                str(args.get("caller", "")),
            )
            await control.dial_for_caller(call_id, target)  # the agent's line is dropped
            try:
                await held.release_agent(call_id)
            except AgentError as exc:
                raise NotConnected(str(exc)) from exc
        case "hangup":
            await control.hangup(call_id)
        case "hold":
            await control.hold(call_id, bool(args.get("on")))
        case "mute":
            await control.mute(call_id, bool(args.get("on")))
        case "send_dtmf":
            await control.send_dtmf(call_id, str(args.get("digits", "")))
        case _:
            raise NotConnected(f"{command!r} is not a call command this instance carries out")
