"""Call control for agent conversations: what the CTI asks of a connector, and the shared
`Conversation` that carries it out over any connector's media.

Place: between the CTI's commands (`ivr.adapters.cti.commands`) and the agent connectors
(`ivr.adapters.sip.agents.SipAgentConnector` over pjsua2, `ivr.adapters.cti.testing.
DeskConnector` in memory). A connector runs one `Conversation` per bridged call inside the
ACD's `bridge`; the CTI's commands (hold, mute, keypad, consult, conference, hand-over,
hang-up of one leg) act on it under its lock, and what the parties do by themselves (a
consulted phone answers, rings out or hangs up; the agent's phone hangs up) is reported to
the CTI's `CallListener` at once, synchronously, so the ACD's books change before the
conversation moves on. Who hears whom is `ivr.adapters.cti.mixing`.

The agent may also send the caller into a flow (`send_to_flow`, through the call's
`CallFlows` from the engine): the caller leaves the audio (nobody hears the caller's keys;
the flow's prompts play to the caller), the flow runs in the conversation's own task tree,
and when it ends the caller talks with the agent again and the listener hears the result
(`flow_ended`). An agent who hangs up meanwhile ends the conversation and the flow with it.

The conversation ends when the caller hangs up, when nobody is left for the caller to talk
to (the agent left and no other party is up or ringing), or when the CTI ends it (`finish`:
the ACD moved the caller elsewhere). The agent's and the other party's lines are hung up on
the way out; the caller's never is (the flow goes on).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

import trio

from ivr.adapters.cti.calls import NotConnected
from ivr.adapters.cti.mixing import Link, Mix, Role, dtmf_targets, links, music, recorded
from ivr.adapters.errors import AdapterError
from ivr.runtime.ports import CallEnded, CallFlows, FlowRefused, FlowResult, RingResult

log = logging.getLogger(__name__)

Change = Literal[
    "other_answered", "other_no_answer", "other_busy", "other_failed", "other_left", "agent_left"
]
"""What a conversation reports: the other party answered, did not (rang out, busy, failed),
hung up after answering; or the agent's line ended while the caller stays with the other
party (the agent left a conference, or hung up the phone during a consultation)."""

DIAL_TIMEOUT = 30.0  # seconds a consulted party or a number may ring
MAX_DTMF = 32


@dataclass(frozen=True, slots=True)
class Dial:
    """Whom to ring for the caller: a SIP address (or digits), and the caller's data for
    the far end's phone (secrets are dropped before anything is sent). `agent_id` is set
    when the far end is an agent, who then takes the call over if the first agent leaves."""

    address: str
    screen: Mapping[str, object] = field(default_factory=dict)
    agent_id: str | None = None
    call_id: str = ""  # the caller's call (for the far end's phone)
    caller: str = ""  # the caller's number


class CallListener(Protocol):
    """The CTI, told what happened in a conversation (called in the conversation's task;
    must not block or raise)."""

    def call_changed(self, call_id: str, change: Change) -> None: ...

    def flow_ended(self, call_id: str, result: FlowResult) -> None:
        """The caller is back from a flow the agent sent it to."""
        ...


class FlowNotAllowed(NotConnected):
    """The flow cannot run for this caller (not an agent flow, an input missing)."""


class CallControl(Protocol):
    """Call control for the CTI, implemented by the agent connector. Every method raises
    `NotConnected` when the connector has no such call (or the call cannot do it now)."""

    def listen(self, listener: CallListener) -> None:
        """Where conversations report (the CTI server, once)."""
        ...

    async def hangup(self, call_id: str) -> None:
        """End the agent's side (declines a call that is still ringing). In a conference,
        or while talking with a consulted party, the caller stays with that party."""
        ...

    async def finish(self, call_id: str) -> None:
        """End the whole conversation but the caller's line (the ACD moved the caller)."""
        ...

    async def hold(self, call_id: str, on: bool) -> None: ...

    async def mute(self, call_id: str, on: bool) -> None: ...

    async def send_dtmf(self, call_id: str, digits: str) -> None: ...

    async def consult(self, call_id: str, target: Dial) -> None:
        """Ring `target` while the caller holds; the outcome comes to the listener."""
        ...

    async def conference(self, call_id: str) -> None: ...

    async def drop_other(self, call_id: str) -> None:
        """Hang up the consulted party; the agent is back with the caller."""
        ...

    async def hand_to_other(self, call_id: str) -> None:
        """The agent leaves; the caller talks with the consulted party (a consulted agent
        becomes the call's agent)."""
        ...

    async def dial_for_caller(self, call_id: str, target: Dial) -> None:
        """Blind transfer to a number: the agent leaves now, `target` rings for the caller
        (who hears music); the outcome comes to the listener."""
        ...

    async def send_to_flow(self, call_id: str, flow: str, inputs: Mapping[str, object]) -> None:
        """Send the caller into `flow` (`FlowNotAllowed` when it cannot run); the caller
        comes back to the agent and the result goes to the listener (`flow_ended`)."""
        ...

    def label_recording(self, call_id: str, key: str, value: str) -> str | None:
        """Add `value` under `key` to the metadata the conversation's recording is stored
        with (an order number placed during it); the recording's id, or None when the
        conversation is not recorded."""
        ...


class Line(Protocol):
    """One party's call as a conversation sees it."""

    @property
    def ended(self) -> trio.Event: ...

    async def answered(self, timeout: float) -> RingResult:
        """Wait for a dialled line to answer: "answered", "no_answer", "busy", "failed"."""
        ...

    async def hang_up(self) -> None: ...

    async def send_dtmf(self, digits: str) -> None: ...


class Media(Protocol):
    """What a connector's audio does for its conversations."""

    async def dial(self, target: Dial) -> Line:
        """Ring `target` (`AdapterError` when it cannot even be tried)."""
        ...

    async def apply(self, lines: Mapping[Role, Line], links: frozenset[Link], music: bool) -> None:
        """Make the bridge carry exactly `links` between `lines`; play hold music to the
        caller, or stop it."""
        ...

    async def record(self, lines: Mapping[Role, Line], voices: frozenset[Role]) -> None:
        """Make the conversation's recording take exactly the voices of `voices`."""
        ...

    @property
    def recording_id(self) -> str | None:
        """The id the conversation's recording will be stored under (None: not recorded)."""
        ...


class _Quiet:
    def call_changed(self, call_id: str, change: Change) -> None:
        pass

    def flow_ended(self, call_id: str, result: FlowResult) -> None:
        pass


@dataclass(eq=False)
class Conversation:
    """One caller talking with an agent, and maybe a third party."""

    call_id: str
    media: Media
    lines: dict[Role, Line]
    listener: CallListener = field(default_factory=_Quiet)
    dial_timeout: float = DIAL_TIMEOUT
    mix: Mix = field(default_factory=Mix)
    over: trio.Event = field(default_factory=trio.Event)
    lock: trio.Lock = field(default_factory=trio.Lock)
    handed_off: bool = False  # the agent left for `other`, which is still ringing
    other_agent: bool = False  # `other` is an agent (who takes over when the agent leaves)
    flows: CallFlows | None = None  # the caller's flows (None: it cannot be sent into one)
    in_flow: str | None = None  # the flow the caller is in now
    labels: dict[str, list[str]] = field(default_factory=dict)  # for the recording's metadata
    _nursery: trio.Nursery | None = None

    async def run(self) -> None:
        """The conversation, until it is over; then the agent's and other's lines hang up."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for line in self.lines.values():
                    nursery.start_soon(self._watch, line)
                async with self.lock:
                    await self._apply()
                await self.over.wait()
                nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                for role in ("other", "agent"):
                    party = self.lines.get(role)
                    if party is not None and not party.ended.is_set():
                        await party.hang_up()

    # -- commands (the CTI) ----------------------------------------------------------------
    async def hold(self, on: bool) -> None:
        async with self.lock:
            self._need_agent()
            self._need_caller_here()
            self.mix = self.mix.with_(held=on)
            await self._apply()

    async def mute(self, on: bool) -> None:
        async with self.lock:
            self._need_agent()
            self.mix = self.mix.with_(muted=on)
            await self._apply()

    async def send_dtmf(self, digits: str) -> None:
        async with self.lock:
            self._need_agent()
            targets = dtmf_targets(self.mix)
            if not targets:
                raise NotConnected("nobody hears the keypad now (the caller is on hold)")
            for role in sorted(targets):
                try:
                    await self.lines[role].send_dtmf(digits[:MAX_DTMF])
                except AdapterError as exc:
                    raise NotConnected(f"the tones did not go out: {exc}") from exc

    async def consult(self, target: Dial) -> None:
        async with self.lock:
            self._need_agent()
            self._need_caller_here()
            if "other" in self.lines:
                raise NotConnected("a consultation is in progress already")
            await self._dial(target, mode="consult")

    async def dial_for_caller(self, target: Dial) -> None:
        async with self.lock:
            self._need_agent()
            self._need_caller_here()
            if "other" in self.lines:
                raise NotConnected("end the consultation first")
            await self._dial(target, mode="talk")
            self.handed_off = True
            await self._drop("agent")

    async def conference(self) -> None:
        async with self.lock:
            self._need_agent()
            self._need_other()
            self.mix = self.mix.with_(mode="conference", held=False)
            await self._apply()

    async def drop_other(self) -> None:
        async with self.lock:
            if "other" not in self.lines:
                raise NotConnected("there is no consulted party on this call")
            await self._drop("other")

    async def hand_to_other(self) -> None:
        async with self.lock:
            self._need_agent()
            self._need_other()
            await self._drop("agent")

    async def send_to_flow(self, flow: str, inputs: Mapping[str, object]) -> None:
        """The caller goes into `flow`; the agent waits, and hears the caller again after."""
        async with self.lock:
            self._need_agent()
            self._need_caller_here()
            if "other" in self.lines:
                raise NotConnected("end the consultation first")
            if self.flows is None or self._nursery is None:
                raise FlowNotAllowed("this call cannot be sent into a flow")
            try:
                self.flows.check(flow, inputs)
            except FlowRefused as exc:
                raise FlowNotAllowed(str(exc)) from exc
            self.in_flow = flow
            self.mix = self.mix.with_(in_flow=True, held=False)
            await self._apply()
            self._nursery.start_soon(self._run_flow, self.flows, flow, dict(inputs))

    def label(self, key: str, value: str) -> str | None:
        """Note `value` under `key` for the recording's metadata; the recording's id."""
        self.labels.setdefault(key, []).append(value)
        return self.media.recording_id

    async def hangup_agent(self) -> None:
        """The agent's own leg; with a third party talking, the caller stays with it."""
        async with self.lock:
            self._need_agent()
            await self._drop("agent")

    def finish(self) -> None:
        self.over.set()

    # -- what the parties do -------------------------------------------------------------
    async def _run_flow(self, flows: CallFlows, flow: str, inputs: Mapping[str, object]) -> None:
        try:
            result = await flows.run(flow, inputs)
        except CallEnded:
            result = FlowResult(flow, "hung_up")
        except Exception:  # the flow's own boundary: the agent gets the caller back
            log.exception("call %s: flow %s failed under an agent conversation", self.call_id, flow)
            result = FlowResult(flow, "failed")
        async with self.lock:
            self.in_flow = None
            self.mix = self.mix.with_(in_flow=False)
            await self._apply()
        try:
            self.listener.flow_ended(self.call_id, result)
        except Exception:
            log.exception("call %s: the CTI failed on the result of flow %s", self.call_id, flow)

    async def _watch(self, line: Line) -> None:
        await line.ended.wait()
        async with self.lock:
            role = self._role_of(line)
            if role is not None:
                self._left(role)
                await self._apply()

    def _left(self, role: Role) -> None:
        del self.lines[role]
        self.mix = self.mix.with_(present=self.mix.present - {role})
        if role == "caller":
            self.over.set()
        elif role == "agent":
            if "other" in self.mix.present or (self.handed_off and "other" in self.lines):
                self.mix = Mix(present=self.mix.present, mode="talk")
                if self.other_agent and "other" in self.mix.present:
                    self._take_over()
                self._tell("agent_left")
            else:
                self.over.set()
        elif "agent" in self.lines:
            self.mix = self.mix.with_(mode="talk")
            self._tell("other_left")
        else:
            self.over.set()  # the caller's party hung up: back to the flow

    def _take_over(self) -> None:
        """The consulted agent holds the call now: its line is the agent's."""
        self.lines["agent"] = self.lines.pop("other")
        present: frozenset[Role] = frozenset({"caller", "agent"})
        self.mix = Mix(present=present & (self.mix.present | {"agent"}))
        self.other_agent = False

    async def _dial(self, target: Dial, *, mode: Literal["talk", "consult"]) -> None:
        if self._nursery is None:
            raise NotConnected("the conversation is ending")
        try:
            line = await self.media.dial(target)
        except AdapterError as exc:  # a bad address, the SIP stack refusing: nothing changed
            raise NotConnected(f"cannot ring {target.address}: {exc}") from exc
        self.lines["other"] = line
        self.other_agent = target.agent_id is not None
        self.mix = self.mix.with_(mode=mode)
        await self._apply()
        self._nursery.start_soon(self._ring, line)

    async def _ring(self, line: Line) -> None:
        result = await line.answered(self.dial_timeout)
        async with self.lock:
            if self.lines.get("other") is not line:
                return
            if result == "answered":
                self.mix = self.mix.with_(present=self.mix.present | {"other"})
                self.handed_off = False
                self._tell("other_answered")
                if self.other_agent and "agent" not in self.lines:
                    self._take_over()  # a blind transfer to an agent's phone, answered
                assert self._nursery is not None
                self._nursery.start_soon(self._watch, line)
            else:
                del self.lines["other"]
                self.mix = self.mix.with_(mode="talk")
                self.handed_off = False
                self._tell(f"other_{result}")  # type: ignore[arg-type]
                if "agent" not in self.lines:
                    self.over.set()  # nobody for the caller: the CTI put it back in a queue
                if not line.ended.is_set():
                    await line.hang_up()
            await self._apply()

    async def _drop(self, role: Role) -> None:
        line = self.lines.get(role)
        if line is None:
            return
        self._left(role)
        await self._apply()
        await line.hang_up()

    # -- helpers -------------------------------------------------------------------------
    async def _apply(self) -> None:
        if self.over.is_set() or "caller" not in self.lines:
            return
        await self.media.apply(self.lines, links(self.mix), music(self.mix))
        await self.media.record(self.lines, recorded(self.mix))

    def _tell(self, change: Change) -> None:
        try:
            self.listener.call_changed(self.call_id, change)
        except Exception:
            log.exception("call %s: the CTI failed on %s", self.call_id, change)

    def _role_of(self, line: Line) -> Role | None:
        return next((role for role, known in self.lines.items() if known is line), None)

    def _need_agent(self) -> None:
        if "agent" not in self.lines or self.over.is_set():
            raise NotConnected(f"call {self.call_id} has no agent talking")

    def _need_caller_here(self) -> None:
        if self.in_flow is not None:
            raise NotConnected(f"the caller is in the flow {self.in_flow} now")

    def _need_other(self) -> None:
        if "other" not in self.mix.present:
            raise NotConnected("the consulted party has not answered")


class Conversations:
    """The connector's bookkeeping: calls ringing an agent (`ringing`: the desktop may
    decline) and conversations in progress, by call id."""

    def __init__(self) -> None:
        self.declined: dict[str, trio.Event] = {}
        self.talking: dict[str, Conversation] = {}
        self.listener: CallListener = _Quiet()

    def ringing(self, call_id: str) -> trio.Event:
        """Set when the desktop declines this ring."""
        event = self.declined[call_id] = trio.Event()
        return event

    def rung(self, call_id: str) -> None:
        self.declined.pop(call_id, None)

    def get(self, call_id: str) -> Conversation:
        conversation = self.talking.get(call_id)
        if conversation is None or conversation.over.is_set():
            raise NotConnected(f"call {call_id} is not talking to an agent")
        return conversation

    async def converse(self, conversation: Conversation) -> None:
        """Run a conversation (the connector's `bridge`) while the CTI can reach it."""
        conversation.listener = self.listener
        self.talking[conversation.call_id] = conversation
        try:
            await conversation.run()
        finally:
            if self.talking.get(conversation.call_id) is conversation:
                del self.talking[conversation.call_id]

    async def hangup(self, call_id: str) -> None:
        declined = self.declined.get(call_id)
        if declined is not None:
            declined.set()
            await trio.lowlevel.checkpoint()
            return
        await self.get(call_id).hangup_agent()

    async def finish(self, call_id: str) -> None:
        self.get(call_id).finish()
        await trio.lowlevel.checkpoint()


class ConversationControl:
    """The CTI's `CallControl` of a connector that runs its calls' `Conversation`s in
    `conversations`: each command goes to the call's conversation (both connectors, SIP and
    in memory, share it)."""

    conversations: Conversations

    def listen(self, listener: CallListener) -> None:
        self.conversations.listener = listener

    async def hangup(self, call_id: str) -> None:
        await self.conversations.hangup(call_id)

    async def finish(self, call_id: str) -> None:
        await self.conversations.finish(call_id)

    async def hold(self, call_id: str, on: bool) -> None:
        await self.conversations.get(call_id).hold(on)

    async def mute(self, call_id: str, on: bool) -> None:
        await self.conversations.get(call_id).mute(on)

    async def send_dtmf(self, call_id: str, digits: str) -> None:
        await self.conversations.get(call_id).send_dtmf(digits)

    async def consult(self, call_id: str, target: Dial) -> None:
        await self.conversations.get(call_id).consult(target)

    async def conference(self, call_id: str) -> None:
        await self.conversations.get(call_id).conference()

    async def drop_other(self, call_id: str) -> None:
        await self.conversations.get(call_id).drop_other()

    async def hand_to_other(self, call_id: str) -> None:
        await self.conversations.get(call_id).hand_to_other()

    async def dial_for_caller(self, call_id: str, target: Dial) -> None:
        await self.conversations.get(call_id).dial_for_caller(target)

    async def send_to_flow(self, call_id: str, flow: str, inputs: Mapping[str, object]) -> None:
        await self.conversations.get(call_id).send_to_flow(flow, inputs)

    def label_recording(self, call_id: str, key: str, value: str) -> str | None:
        return self.conversations.get(call_id).label(key, value)
