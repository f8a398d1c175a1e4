"""ACD events and their fan-out to subscribers (the CTI server, wallboards, tests).

The core (`ivr.runtime.acd.core`) emits plain event values; `EventHub` copies each one into
every subscriber's trio memory channel without ever waiting. A subscriber whose buffer is
full is dropped (its channel ends), so a slow desktop can never hold up call routing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import trio


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    RESERVED = "reserved"  # a call is ringing the agent
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


@dataclass(frozen=True, slots=True)
class CallOffered:
    at: float
    call_id: str
    agent_id: str
    queue: str
    screen: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallConnected:
    at: float
    call_id: str
    agent_id: str
    queue: str


LeftQueue = Literal["completed", "abandoned", "timeout", "no_agents"]
"""How a call left the ACD: talked with an agent, hung up while waiting, waited its limit,
or the last agent with its skills logged out."""


@dataclass(frozen=True, slots=True)
class CallFinished:
    """A call left the ACD: `outcome` is "completed", "abandoned", "timeout" or "no_agents";
    `agent_id` is the agent who talked to it (None when nobody did)."""

    at: float
    call_id: str
    queue: str
    outcome: LeftQueue
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    at: float
    agent_id: str
    state: AgentState
    previous: AgentState


@dataclass(frozen=True, slots=True)
class QueueChanged:
    """The queue's counters moved (a call entered or left); `statistics()` has the rest."""

    at: float
    queue: str
    waiting: int


AcdEvent = CallOffered | CallConnected | CallFinished | AgentStateChanged | QueueChanged


class EventHub:
    """Non-blocking fan-out of `AcdEvent`s to any number of subscribers."""

    def __init__(self) -> None:
        self._subscribers: list[trio.MemorySendChannel[AcdEvent]] = []

    def subscribe(self, buffer: int = 256) -> trio.MemoryReceiveChannel[AcdEvent]:
        """A new channel receiving every event from now on. If `buffer` events pile up
        unread, the subscriber is dropped: its channel ends (`EndOfChannel`) after the
        events already buffered; subscribe again to resume."""
        send, receive = trio.open_memory_channel[AcdEvent](max(1, buffer))
        self._subscribers.append(send)
        return receive

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, event: AcdEvent) -> None:
        if not self._subscribers:
            return
        kept = []
        for send in self._subscribers:
            try:
                send.send_nowait(event)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                send.close()
                continue
            kept.append(send)
        self._subscribers = kept
