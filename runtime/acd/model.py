"""The ACD core's records and decisions: what a queued call and a logged-in agent are, and
what the core asks its driver (`ivr.runtime.acd.service`, or a test) to do next.

Plain mutable records owned by `ivr.runtime.acd.core`; everyone else reads them only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from ivr.runtime.acd.events import AgentState, OfferKind

SkillSet = frozenset[str]


class CallState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # ringing an agent
    CONNECTED = "connected"  # talking with an agent
    EXTERNAL = "external"  # its agent handed it to someone outside the ACD (a number)
    DEFERRED = "deferred"  # a kept place between callback attempts: in its queue, not routed


@dataclass(slots=True, eq=False)
class Consult:
    """A second agent on a connected call: rung, then talking with the call's agent (and in
    a conference with the caller too). `previous` is where that agent goes back to."""

    agent_id: str
    previous: AgentState
    reason: str | None
    talking: bool = False


@dataclass(slots=True, eq=False)
class QueuedCall:
    call_id: str
    queue: str
    skills: SkillSet
    priority: int
    seq: int  # arrival order; kept when the call goes back to the queue
    arrived: float
    screen: Mapping[str, object]
    state: CallState = CallState.WAITING
    agent_id: str | None = None  # offered to, or talking with
    answered_at: float | None = None
    queued: bool = True  # counted in its queue (waiting or ringing from it), until answered
    offer: OfferKind = "queue"  # how the current agent was offered it
    offered_by: str | None = None  # the agent who transferred it
    consult: Consult | None = None
    callback: str | None = None  # a kept place: the number to call back (docs/acd.md)

    @property
    def rank(self) -> tuple[int, int]:
        """Smaller is served first: higher priority, then earlier arrival."""
        return (-self.priority, self.seq)


@dataclass(slots=True, eq=False)
class Agent:
    agent_id: str
    address: str
    skills: Mapping[str, int]
    order: int  # login order: the last tie-break, so routing is deterministic
    state: AgentState = AgentState.NOT_READY
    idle_since: float = 0.0
    epoch: int = 0  # bumped on every state change; stale heap entries and timers carry an old one
    call_id: str | None = None
    calls_handled: int = 0
    no_answers: int = 0
    reason: str | None = None  # why not ready
    after_call: str | None = None  # go not ready (with this reason) once the call ends
    wrap_up_until: float | None = None
    covered: list[SkillSet] = field(default_factory=list)  # tracked skill sets this agent can serve

    def level(self, skills: SkillSet) -> int:
        """How well the agent fits a call: its weakest level among the required skills."""
        return min((self.skills[skill] for skill in skills), default=0)


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring `agent_id` for `call_id`: the agent is reserved for it."""

    call_id: str
    agent_id: str
    address: str


Evicted = Literal["overflow", "no_agents"]


@dataclass(frozen=True, slots=True)
class Eviction:
    """The call leaves the queue without an agent: `outcome` is "overflow" or "no_agents"."""

    call_id: str
    outcome: Evicted


@dataclass(frozen=True, slots=True)
class Wake:
    """Call `AcdCore.wake(agent_id, epoch, now, early=early)` at time `at` (end of wrap-up or
    cooldown; `early`: shortly before the end of wrap-up, for a kept place)."""

    agent_id: str
    epoch: int
    at: float
    early: bool = False


Decision = Offer | Eviction | Wake
