"""`DeskConnector`: an in-memory agent connector with call control, shipped as real code.

Place: beside the CTI adapter, for tests, demos and the simulator: it implements the ACD's
`AgentConnector` port and the CTI's `CallControl` without SIP, running the same
`Conversation` (`ivr.adapters.cti.control`) as the SIP connector over `DeskMedia`, which
keeps what a bridge would carry (`links`, `music`, `voices`, `tones`) for tests to read.
An agent's "phone" answers after `answer_after` seconds (trio clock) unless the desktop
declines first; a dialled party answers the same way unless `answers` says otherwise for
its address ("no_answer" rings for the whole timeout; "busy", "failed" at once). A party's
phone hangs up when a test calls `hang_up_phone(address)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import trio

from ivr.adapters.cti.control import (
    Conversation,
    ConversationControl,
    Conversations,
    Dial,
    Line,
)
from ivr.adapters.cti.mixing import Link, Role
from ivr.adapters.events import first_set
from ivr.runtime.ports import AgentEndpoint, CallEnded, CallFlows, CallLeg, HangupWatch, RingResult
from ivr.runtime.testing import MemoryCallLeg


@dataclass(eq=False)
class DeskLine:
    """A party's line in memory."""

    address: str
    answer_after: float = 0.0
    result: RingResult = "answered"
    ended: trio.Event = field(default_factory=trio.Event)
    tones: list[str] = field(default_factory=list)

    async def answered(self, timeout: float) -> RingResult:
        if self.result == "no_answer" or self.answer_after > timeout:
            await trio.sleep(timeout)
            return "no_answer"
        await trio.sleep(self.answer_after)
        if self.ended.is_set():
            return "no_answer"
        return self.result

    async def hang_up(self) -> None:
        self.ended.set()
        await trio.lowlevel.checkpoint()

    async def send_dtmf(self, digits: str) -> None:
        self.tones.append(digits)
        await trio.lowlevel.checkpoint()


@dataclass(eq=False)
class DeskMedia:
    """What the bridge carries for one conversation, by role."""

    connector: DeskConnector
    links: frozenset[Link] = frozenset()
    music: bool = False
    voices: frozenset[Role] = frozenset()
    recording_id: str | None = None

    async def dial(self, target: Dial) -> Line:
        self.connector.dialled.append(target)
        result = self.connector.answers.get(target.address, "answered")
        line = DeskLine(target.address, self.connector.answer_after, result)
        self.connector.phones.setdefault(target.address, []).append(line)
        await trio.lowlevel.checkpoint()
        return line

    async def apply(self, lines: Mapping[Role, Line], links: frozenset[Link], music: bool) -> None:
        self.links, self.music = links, music
        await trio.lowlevel.checkpoint()

    async def record(self, lines: Mapping[Role, Line], voices: frozenset[Role]) -> None:
        self.voices = voices


@dataclass(eq=False)
class CallerLine:
    """The caller's leg as a line: ended when the caller hangs up (on legs that can tell:
    `HangupWatch`, or the tests' `MemoryCallLeg`); `tones` the keypad sent the caller."""

    leg: CallLeg
    ended: trio.Event = field(default_factory=trio.Event)
    tones: list[str] = field(default_factory=list)

    async def watch(self) -> None:
        leg = self.leg
        if isinstance(leg, HangupWatch):
            await leg.wait_ended()
        elif isinstance(leg, MemoryCallLeg):
            await leg.wait_for(lambda: leg.caller_hung_up)
        else:
            await trio.sleep_forever()
        self.ended.set()

    async def answered(self, timeout: float) -> RingResult:
        return "answered"

    async def hang_up(self) -> None:
        raise AssertionError("a conversation never hangs up the caller")

    async def send_dtmf(self, digits: str) -> None:
        self.tones.append(digits)
        await trio.lowlevel.checkpoint()


@dataclass(slots=True, eq=False)
class DeskConnector(ConversationControl):
    answer_after: float = 0.5
    answers: dict[str, RingResult] = field(default_factory=dict)  # address -> how it answers
    dial_timeout: float = 30.0  # how long a consulted party or a number may ring
    conversations: Conversations = field(default_factory=Conversations)
    offers: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)  # call, agent, screen
    bridged: list[tuple[str, str]] = field(default_factory=list)
    dialled: list[Dial] = field(default_factory=list)
    phones: dict[str, list[DeskLine]] = field(default_factory=dict)  # address -> its lines, in order
    media: dict[str, DeskMedia] = field(default_factory=dict)  # call id -> the latest conversation's
    callers: dict[str, CallerLine] = field(default_factory=dict)  # call id -> its caller's line
    labels: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # call id -> recording labels

    # -- AgentConnector --------------------------------------------------------------------
    async def ring(
        self, leg: CallLeg, agent: AgentEndpoint, *, ring_timeout: Decimal, screen: Mapping[str, object]
    ) -> RingResult:
        self.offers.append((leg.call_id, agent.agent_id, dict(screen)))
        declined = self.conversations.ringing(leg.call_id)
        caller = CallerLine(leg)
        result = self.answers.get(agent.address, "answered")
        wait = float(ring_timeout) if result == "no_answer" else min(self.answer_after, float(ring_timeout))
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(caller.watch)
                with trio.move_on_after(wait):
                    await first_set(declined, caller.ended)
                nursery.cancel_scope.cancel()
        finally:
            self.conversations.rung(leg.call_id)
        if caller.ended.is_set():
            raise CallEnded(leg.call_id)
        if declined.is_set() or self.answer_after > float(ring_timeout):
            return "no_answer"
        return result

    async def bridge(self, leg: CallLeg, agent: AgentEndpoint, *, flows: CallFlows | None = None) -> None:
        self.bridged.append((leg.call_id, agent.agent_id))
        caller = self.callers[leg.call_id] = CallerLine(leg)
        phone = DeskLine(agent.address)
        self.phones.setdefault(agent.address, []).append(phone)
        media = DeskMedia(self, recording_id=f"{leg.call_id}-agent-{agent.agent_id}")
        self.media[leg.call_id] = media
        lines: dict[Role, Line] = {"caller": caller, "agent": phone}
        conversation = Conversation(leg.call_id, media, lines, dial_timeout=self.dial_timeout, flows=flows)
        self.labels[leg.call_id] = conversation.labels
        async with trio.open_nursery() as nursery:
            nursery.start_soon(caller.watch)
            await self.conversations.converse(conversation)
            nursery.cancel_scope.cancel()

    def hang_up_phone(self, address: str) -> None:
        """The phone at `address` hangs up its latest line (as a person putting it down)."""
        self.phones[address][-1].ended.set()
