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


OfferKind = Literal["queue", "transfer", "consult"]
"""Why an agent is offered a call: the queue routed it; another agent transferred it to this
one by name (blind); another agent asks this one for a consultation (warm transfer)."""


@dataclass(frozen=True, slots=True)
class CallOffered:
    """An agent's phone rings for a call: `kind` says why, `by` is the agent who transferred
    it or asks for the consultation."""

    at: float
    call_id: str
    agent_id: str
    queue: str
    screen: Mapping[str, object] = field(default_factory=dict)
    kind: OfferKind = "queue"
    by: str | None = None


@dataclass(frozen=True, slots=True)
class CallConnected:
    """The agent talks: with the caller (`queue`; `transfer`: the call was handed to this
    agent), or with the agent who asked for a consultation (`consult`). `remote`: the call
    is held by another instance of a shared center, whose journal notes it (docs/cluster.md)."""

    at: float
    call_id: str
    agent_id: str
    queue: str
    kind: OfferKind = "queue"
    remote: bool = False


LeftQueue = Literal["completed", "abandoned", "timeout", "no_agents"]
"""How a call left the ACD: talked with an agent, hung up while waiting, waited its limit,
or the last agent with its skills logged out."""


@dataclass(frozen=True, slots=True)
class CallFinished:
    """A call left the ACD: `outcome` is "completed", "abandoned", "timeout" or "no_agents";
    `agent_id` is the agent who talked to it (None when nobody did); `remote` as for
    `CallConnected`."""

    at: float
    call_id: str
    queue: str
    outcome: LeftQueue
    agent_id: str | None = None
    remote: bool = False


AgentPart = Literal["transferred", "consult_ended", "no_answer", "busy", "failed"]
"""How one agent's part in a call ended while the call went on: the agent handed the caller
on; a consultation ended; the agent's phone did not answer, was busy, or failed."""


@dataclass(frozen=True, slots=True)
class AgentLeft:
    """An agent's part in a call ended, and the call goes on without that agent; `remote`
    as for `CallConnected`."""

    at: float
    call_id: str
    agent_id: str
    queue: str
    outcome: AgentPart
    remote: bool = False


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """`reason` says why an agent is not ready (break, training, ..., or `no_answer`);
    `until` is when wrap-up ends (trio clock); `after_call` is the not-ready reason the agent
    asked for once its call ends. `state == previous` when only these changed."""

    at: float
    agent_id: str
    state: AgentState
    previous: AgentState
    reason: str | None = None
    until: float | None = None
    after_call: str | None = None


@dataclass(frozen=True, slots=True)
class QueueChanged:
    """The queue's counters moved (a call entered or left); `statistics()` has the rest."""

    at: float
    queue: str
    waiting: int


AcdEvent = CallOffered | CallConnected | CallFinished | AgentLeft | AgentStateChanged | QueueChanged


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
