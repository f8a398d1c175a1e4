"""Which calls belong to which agent, and the call control the CTI needs from the connector.

Place: `CallBook` follows the ACD's events (`ivr.runtime.acd.events`) inside the CTI server
and answers the ownership question of every command: an agent may hang up or transfer only
the call it holds, and wrap up only calls it talked to. `CallControl` is what the CTI asks
of the agent connector (`ivr.adapters.sip.agents.SipAgentConnector`, or
`ivr.adapters.cti.testing.DeskConnector`): end a call's agent side, or hand the caller over
to something else (a queue, another agent, a number) while the ACD still counts the call.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from ivr.adapters.errors import AdapterError
from ivr.runtime.acd import AcdEvent, AgentState, AgentStateChanged, CallConnected, CallFinished, CallOffered
from ivr.runtime.ports import CallLeg, Recording, SpokenPrompt, TransferMode

HandOver = Callable[[CallLeg], Awaitable[object]]


class NotConnected(AdapterError):
    """The call is not (or no longer) talking to an agent through this connector."""


class CallControl(Protocol):
    """Call control for the CTI, implemented by the agent connector."""

    async def hangup(self, call_id: str) -> None:
        """End the agent's side of `call_id` (ringing or talking); the caller stays with the
        flow. `NotConnected` when the connector has no such call."""
        ...

    async def hand_over(self, call_id: str, then: HandOver) -> None:
        """Release the agent of `call_id` and run `then(leg)` for the caller, inside the
        running bridge; returns once the agent is released. `NotConnected` if not bridged."""
        ...


@dataclass(slots=True)
class HeldCall:
    call_id: str
    record_id: str  # the call record it belongs to (a transferred call keeps its caller's)
    queue: str
    screen: Mapping[str, object]
    agent_id: str
    connected: bool = False


@dataclass(slots=True, eq=False)
class CallBook:
    """Calls offered to or held by agents, and each agent's recent calls (for wrap-up)."""

    held: dict[str, HeldCall] = field(default_factory=dict)
    recent: dict[str, deque[HeldCall]] = field(default_factory=dict)
    record_of: dict[str, str] = field(default_factory=dict)  # requeued call id -> record id

    def follow(self, event: AcdEvent) -> set[str]:
        """Update from one ACD event; the agents it concerns."""
        match event:
            case CallOffered():
                record = self.record_of.get(event.call_id, event.call_id)
                self.held[event.call_id] = HeldCall(
                    event.call_id, record, event.queue, event.screen, event.agent_id
                )
                return {event.agent_id}
            case CallConnected():
                call = self.held.get(event.call_id)
                if call is not None:
                    call.connected = True
                    self._remember(event.agent_id, call)
                return {event.agent_id}
            case CallFinished():
                call = self.held.pop(event.call_id, None)
                self.record_of.pop(event.call_id, None)
                return {a for a in (event.agent_id, call.agent_id if call else None) if a is not None}
            case AgentStateChanged():
                if event.previous is AgentState.RESERVED and event.state is not AgentState.ON_CALL:
                    self._not_answered(event.agent_id)
                return {event.agent_id}
        return set()

    def reassign(self, call_id: str, agent_id: str) -> None:
        """A transfer to another agent: that agent now holds the call (and may wrap it up)."""
        call = self.held.get(call_id)
        if call is not None:
            call.agent_id = agent_id
            self._remember(agent_id, call)

    def _remember(self, agent_id: str, call: HeldCall) -> None:
        self.recent.setdefault(agent_id, deque(maxlen=8)).append(call)

    def _not_answered(self, agent_id: str) -> None:
        for call_id, call in list(self.held.items()):
            if call.agent_id == agent_id and not call.connected:
                del self.held[call_id]

    def holding(self, agent_id: str) -> HeldCall | None:
        return next((c for c in self.held.values() if c.agent_id == agent_id), None)

    def owned(self, agent_id: str, call_id: str) -> HeldCall | None:
        """The call if `agent_id` holds it now."""
        call = self.held.get(call_id)
        return call if call is not None and call.agent_id == agent_id else None

    def handled(self, agent_id: str, call_id: str) -> HeldCall | None:
        """The call if `agent_id` talked to it lately (wrap-up)."""
        return next((c for c in self.recent.get(agent_id, ()) if c.call_id == call_id), None)


class RenamedLeg:
    """A caller's leg under another call id: a caller transferred to a queue enters the ACD
    again (the ACD keeps one entry per call id, and the first one is still connected)."""

    def __init__(self, leg: CallLeg, call_id: str) -> None:
        self._leg = leg
        self._call_id = call_id

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def caller(self) -> str:
        return self._leg.caller

    @property
    def dialed(self) -> str:
        return self._leg.dialed

    @property
    def inner(self) -> CallLeg:
        return self._leg

    async def play(self, prompt: SpokenPrompt, *, barge_in: bool) -> bool:
        return await self._leg.play(prompt, barge_in=barge_in)

    async def read_digit(self, timeout: Decimal) -> str | None:
        return await self._leg.read_digit(timeout)

    def clear_digits(self) -> None:
        self._leg.clear_digits()

    async def record(
        self, *, max_length: Decimal, stop_key: str | None, beep: bool, recording_id: str
    ) -> Recording:
        return await self._leg.record(
            max_length=max_length, stop_key=stop_key, beep=beep, recording_id=recording_id
        )

    def set_secret_entry(self, active: bool) -> None:
        self._leg.set_secret_entry(active)

    async def transfer(self, destination: str, *, mode: TransferMode, timeout: Decimal) -> bool:
        return await self._leg.transfer(destination, mode=mode, timeout=timeout)

    async def hangup(self) -> None:
        await self._leg.hangup()

    def __getattr__(self, name: str) -> Any:
        # `wait_ended` (HangupWatch) and adapter extras such as a SIP leg's `handle`
        return getattr(self._leg, name)


def innermost(leg: CallLeg) -> CallLeg:
    """The caller's own leg beneath any `RenamedLeg`s."""
    while isinstance(leg, RenamedLeg):
        leg = leg.inner
    return leg
