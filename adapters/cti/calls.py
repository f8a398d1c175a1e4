"""Which calls belong to which agent, in which role, and what each desktop shows of them.

Place: `CallBook` follows the ACD's events (`ivr.runtime.acd.events`) inside the CTI server
and answers the ownership question of every command: an agent acts on the call it holds
(its `agent`), or leaves a call it was consulted on (its `other`), and wraps up only calls
it talked to (its `recent` ones). The CTI's commands and the conversations' reports add what
the ACD does not know: hold, mute, the consulted party (an agent or a number) and the mode.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ivr.adapters.cti.mixing import Mode
from ivr.adapters.cti.orders import Draft
from ivr.adapters.errors import AdapterError
from ivr.runtime.acd import (
    AcdEvent,
    AgentLeft,
    CallConnected,
    CallFinished,
    CallOffered,
    OfferKind,
)
from ivr.runtime.ports import FlowResult

RECENT = 8  # calls an agent may still wrap up


class NotConnected(AdapterError):
    """The call is not (or no longer) talking to an agent through this connector, or cannot
    do what was asked in its present state."""


@dataclass(slots=True)
class Other:
    """The third party of a call: a consulted agent (`agent`: extension) or a number."""

    kind: Literal["agent", "number"]
    target: str
    talking: bool = False
    blind: bool = False  # the caller was handed to it (no agent left on the call)


@dataclass(frozen=True, slots=True)
class ReadBackOrder:
    """An order the back office found acceptable and the desktop read back: for whom, on
    which market, what, and under which name the caller heard it."""

    account: str
    market: str
    draft: Draft
    name: str


@dataclass(slots=True)
class HeldCall:
    call_id: str
    queue: str
    screen: Mapping[str, object]
    agent_id: str | None  # offered to, or talking with (None: handed out of the ACD)
    offer: OfferKind = "queue"
    by: str | None = None  # who transferred it
    connected: bool = False
    connected_at: float | None = None  # trio clock: the agent's call timer starts here
    held: bool = False
    muted: bool = False
    mode: Mode = "talk"
    other: Other | None = None
    in_flow: str | None = None  # the flow the agent sent the caller into, while it runs
    results: list[FlowResult] = field(default_factory=list)  # what the flows gave back
    flow_inputs: dict[str, Mapping[str, object]] = field(default_factory=dict)  # by flow: the last run's
    read_back: ReadBackOrder | None = None  # the order last read back (the only one that may be placed)
    orders: list[str] = field(default_factory=list)  # order numbers placed for the caller

    @property
    def facts(self) -> dict[str, object]:
        """What is known of the caller: the screen data, updated by the outputs of every
        flow the caller came back from (a PIN check's `verified`, ...)."""
        known = dict(self.screen)
        for result in self.results:
            if result.ending == "returned":
                known.update(result.outputs)
        return known

    def role_of(self, extension: str) -> Literal["agent", "consulted"] | None:
        if self.agent_id == extension:
            return "agent"
        if self.other is not None and self.other.kind == "agent" and self.other.target == extension:
            return "consulted"
        return None


@dataclass(slots=True)
class Ended:
    """An agent's part in a call ended: what its desktop is told."""

    agent_id: str
    call_id: str
    queue: str
    outcome: str
    wrapup: bool  # the agent talked with the caller: a disposition is due


@dataclass(slots=True, eq=False)
class CallBook:
    """Calls offered to or held by agents, and each agent's recent calls (for wrap-up)."""

    held: dict[str, HeldCall] = field(default_factory=dict)
    recent: dict[str, deque[HeldCall]] = field(default_factory=dict)
    ended: list[Ended] = field(default_factory=list)  # filled by `follow`, read by the server

    def follow(self, event: AcdEvent, now: float) -> set[str]:
        """Update from one ACD event; the agents whose desktops must hear of it."""
        match event:
            case CallOffered(kind="consult"):
                call = self.held.get(event.call_id)
                if call is not None:
                    call.other = Other("agent", event.agent_id)
                    return {event.agent_id, *self._agent(call)}
                return {event.agent_id}
            case CallOffered():
                self.held[event.call_id] = HeldCall(
                    event.call_id, event.queue, event.screen, event.agent_id, event.kind, event.by
                )
                return {event.agent_id}
            case CallConnected(kind="consult"):
                call = self.held.get(event.call_id)
                if call is not None and call.other is not None:
                    call.other.talking = True
                    return {event.agent_id, *self._agent(call)}
                return {event.agent_id}
            case CallConnected():
                return self._connected(event, now)
            case AgentLeft():
                return self._left(event)
            case CallFinished():
                call = self.held.pop(event.call_id, None)
                if call is not None and call.agent_id is not None:
                    self._end(call, call.agent_id, event.outcome)
                return {e.agent_id for e in self.ended}
        return set()

    def _connected(self, event: CallConnected, now: float) -> set[str]:
        call = self.held.get(event.call_id)
        if call is None:
            return {event.agent_id}
        if event.kind == "transfer" and call.other is not None:  # the consulted agent took it
            call.other, call.mode, call.held, call.muted = None, "talk", False, False
            call.agent_id, call.offer = event.agent_id, "transfer"
        call.connected, call.connected_at = True, now
        self.remember(event.agent_id, call)
        return {event.agent_id}

    def _left(self, event: AgentLeft) -> set[str]:
        call = self.held.get(event.call_id)
        if call is None:
            return {event.agent_id}
        if call.agent_id == event.agent_id:
            if call.connected or event.outcome == "transferred":
                self._end(call, event.agent_id, event.outcome)
            else:  # an offer that was not answered
                self.ended.append(Ended(event.agent_id, call.call_id, call.queue, event.outcome, False))
            call.agent_id, call.connected, call.connected_at = None, False, None
            call.held = call.muted = False
            if call.other is not None and call.other.kind == "number":
                call.other.blind = True
        elif call.other is not None and call.other.target == event.agent_id:
            talked = call.mode == "conference" and call.other.talking
            self.ended.append(Ended(event.agent_id, call.call_id, call.queue, event.outcome, talked))
            call.other, call.mode = None, "talk"
        return {event.agent_id, *self._agent(call)}

    def _end(self, call: HeldCall, agent_id: str, outcome: str) -> None:
        self.ended.append(Ended(agent_id, call.call_id, call.queue, outcome, call.connected))

    @staticmethod
    def _agent(call: HeldCall) -> set[str]:
        return {call.agent_id} if call.agent_id is not None else set()

    def remember(self, agent_id: str, call: HeldCall) -> None:
        recent = self.recent.setdefault(agent_id, deque(maxlen=RECENT))
        if all(c.call_id != call.call_id for c in recent):
            recent.append(call)

    def take_ended(self) -> list[Ended]:
        ended, self.ended = self.ended, []
        return ended

    # -- questions -----------------------------------------------------------------------
    def involving(self, agent_id: str) -> list[HeldCall]:
        """The calls the agent holds or is consulted on (for a reconnecting desktop)."""
        return [c for c in self.held.values() if c.role_of(agent_id) is not None]

    def owned(self, agent_id: str, call_id: str) -> HeldCall | None:
        """The call if `agent_id` holds it now."""
        call = self.held.get(call_id)
        return call if call is not None and call.agent_id == agent_id else None

    def handled(self, agent_id: str, call_id: str) -> HeldCall | None:
        """The call if `agent_id` talked to it lately (wrap-up)."""
        return next((c for c in self.recent.get(agent_id, ()) if c.call_id == call_id), None)
