"""The ACD's routing state shared by several instances of one center (docs/cluster.md,
"Agents and queues across instances").

In one process `AcdCore` holds the waiting calls and the ready agents. When several
`ivr serve` instances form one center, the calls waiting at instance A and the agents
whose desktops are on instance B must be compared as one set, or VIP priority and longest
idle would hold per instance only. This module is the runtime's side of that: the records
and the `SharedRouting` port. The PostgreSQL adapter (`ivr.adapters.sharedacd`) keeps
the state in tables and makes every change and every routing decision one transaction,
numbered in one sequence (`Step.seq`), so the order of availability is the order of the
numbers.

The routing step, "match one waiting call to one agent", is `SharedRouting.route_once`:
the best waiting call that some ready agent can serve (highest priority, then earliest
arrival), to the best ready agent for it (longest idle; for a VIP call the most skilled,
then longest idle). The call is `offered` and the agent `reserved` in the same
transaction, so no call is offered twice and no agent holds two offers. The instance that
owns the call then rings the agent's phone (its SIP address is in the shared agent row);
the instance that hosts the agent's desktop shows the offer.

`expected_match` is the rule itself over plain records: the property test replays every
recorded step through it and checks that the database chose the same pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

SharedAgentState = Literal["ready", "not_ready", "reserved", "on_call", "wrap_up"]
SharedCallState = Literal["waiting", "offered", "connected"]


@dataclass(frozen=True)
class SharedCall:
    """A call waiting for an agent, as every instance sees it. `instance` owns the call's
    SIP leg; `vip` is decided by that instance from its queue's `vip_priority`."""

    call_id: str
    queue: str
    priority: int
    skills: frozenset[str]
    instance: str
    vip: bool = False
    screen: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class SharedAgent:
    """A logged-in agent: `instance` hosts the agent's desktop (CTI session); `address` is
    the SIP address of the agent's phone, dialled by whichever instance owns the call."""

    agent_id: str
    address: str
    skills: Mapping[str, int]
    instance: str


@dataclass(frozen=True)
class Match:
    """One routing decision: `call_id` (owned by `call_instance`) is offered to `agent_id`
    (desktop on `agent_instance`, phone at `address`). `seq` orders it among all steps."""

    seq: int
    call_id: str
    agent_id: str
    address: str
    call_instance: str
    agent_instance: str
    queue: str
    screen: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """What one change did: its place `seq` in the center's order, and whether it applied
    (a conditional change that found the row in another state did not)."""

    seq: int
    applied: bool


@dataclass(frozen=True)
class CenterQueue:
    """One queue across the center: calls not yet answered (waiting or ringing an agent,
    at any instance) and the wait of the longest-waiting one, on the database's clock."""

    queue: str
    waiting: int
    longest_wait: float


@dataclass(frozen=True)
class CenterFigures:
    """The center's live queue figures (`SharedRouting.figures`): every queue with a call
    not yet answered, and the logged-in agents by state, whichever instance they are on."""

    queues: Mapping[str, CenterQueue]
    agents: Mapping[SharedAgentState, int]


@dataclass(frozen=True)
class Place:
    """Where a waiting call stands in the center: `position` 1 is the next served among
    the calls needing the same skills (at any instance); `covering` the logged-in agents
    having those skills; `handle_time` the queue's average handle time over the recent
    calls of every instance (None: no call of the queue has been handled yet)."""

    position: int
    covering: int
    handle_time: float | None = None


class SharedRouting(Protocol):
    """The center's shared queue state. Every method is one transaction; every method that
    changes what is available wakes the other instances (the adapter's notifications)."""

    async def add_call(self, call: SharedCall) -> Step: ...

    async def withdraw_call(self, call_id: str) -> Step:
        """The caller left (hung up, timed out) while waiting: not applied if the call was
        already offered; then the owner sees the offer and abandons it with `abandon`."""
        ...

    async def login(self, agent: SharedAgent, *, ready: bool = False) -> Step: ...

    async def logout(self, agent_id: str) -> Step:
        """Not applied while the agent is reserved or on a call."""
        ...

    async def set_ready(self, agent_id: str) -> Step:
        """From not ready or wrap-up; the agent's place among idle agents is this step."""
        ...

    async def set_not_ready(self, agent_id: str) -> Step:
        """Not applied if a routing step reserved the agent first: the offer stands."""
        ...

    async def route_once(self) -> Match | None:
        """One routing step, decided by this instance alone: a match, or None."""
        ...

    async def answered(self, call_id: str) -> Step: ...

    async def not_answered(self, call_id: str) -> Step:
        """The agent did not answer: the agent goes not ready, the call back to waiting in
        its old place (same priority and arrival)."""
        ...

    async def abandon(self, call_id: str) -> Step:
        """The caller hung up while its agent was ringing: the call leaves, the agent is
        ready again in the place it had among idle agents."""
        ...

    async def finished(self, call_id: str, *, wrap_up: bool) -> Step:
        """The conversation ended: the call leaves; the agent goes to wrap-up or ready."""
        ...

    async def agents_with(self, skills: frozenset[str]) -> int:
        """Logged-in agents (in any state) having every skill: none means "no_agents"."""
        ...

    async def agents_of(self, instance: str) -> list[tuple[str, SharedAgentState, str | None]]:
        """The agents whose desktops are on `instance`: (agent, state, call), so that
        instance's local ACD can catch up with a call's end it was not told of."""
        ...

    async def offers_for(self, instance: str) -> list[Match]:
        """Calls owned by `instance` that were offered and not yet answered (the owner's
        safety net if a notification was missed)."""
        ...

    async def figures(self) -> CenterFigures | None:
        """The center's live figures; None when the state cannot be read just now."""
        ...

    async def place(self, call_id: str) -> Place | None:
        """Where a waiting call stands; None when it no longer waits (offered, gone) or the
        state cannot be read just now."""
        ...


@dataclass(frozen=True)
class ReadyAgent:
    """What the routing rule needs of a ready agent."""

    agent_id: str
    skills: Mapping[str, int]
    ready_seq: int
    login_seq: int


@dataclass(frozen=True)
class WaitingCall:
    """What the routing rule needs of a waiting call."""

    call_id: str
    priority: int
    vip: bool
    skills: frozenset[str]
    seq: int


def level(skills: Mapping[str, int], required: frozenset[str]) -> int:
    """How well an agent fits a call: its weakest level among the required skills."""
    return min((skills[skill] for skill in required), default=0)


def expected_match(calls: Iterable[WaitingCall], agents: Iterable[ReadyAgent]) -> tuple[str, str] | None:
    """The routing rule: the best waiting call some ready agent can serve, and the best
    ready agent for it; `(call_id, agent_id)` or None."""
    ready = list(agents)
    for call in sorted(calls, key=lambda c: (-c.priority, c.seq)):
        able = [agent for agent in ready if call.skills <= agent.skills.keys()]
        if able:
            best = min(
                able,
                key=lambda a: (-level(a.skills, call.skills) if call.vip else 0, a.ready_seq, a.login_seq),
            )
            return call.call_id, best.agent_id
    return None
