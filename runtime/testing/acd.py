"""`MemoryAgentConnector`: an in-memory `AgentConnector` (the ACD's way to reach agents)
whose agents answer per script on the trio clock. Tests of `ivr.runtime.acd` and the
simulator use it; a SIP adapter implements the same port by ringing real phones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import trio

from ivr.runtime.ports import (
    AgentEndpoint,
    CallEnded,
    CallFlows,
    CallLeg,
    FlowResult,
    HangupWatch,
    RingResult,
)


@dataclass(frozen=True, slots=True)
class AgentAnswer:
    """How an agent takes one offered call: `answer` is "answered", "no_answer", "busy" or
    "failed"; the phone rings `ring` seconds first ("no_answer" rings the full timeout, and
    so does "answered" when `ring` is longer than it), then they talk `talk` seconds. With
    `flow`, the agent first sends the caller into that flow (with `inputs`) and talks on
    once the caller is back."""

    answer: RingResult = "answered"
    ring: float = 1.0
    talk: float = 60.0
    flow: str | None = None
    inputs: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ring:
    """One offer as the agent's desktop saw it."""

    call_id: str
    agent_id: str
    at: float
    screen: Mapping[str, object]
    answer: RingResult | None = None


@dataclass(slots=True, eq=False)
class MemoryAgentConnector:
    """Agents answer from `scripts[agent_id]` (one `AgentAnswer` per offer, in order), then
    `default`. `rings` lists every offer; `talking` maps agent id to call id during a call;
    `flow_results` what each flow an agent sent a caller into gave back (call id, result)."""

    scripts: dict[str, deque[AgentAnswer]] = field(default_factory=dict)
    default: AgentAnswer = AgentAnswer()
    rings: list[Ring] = field(default_factory=list)
    talking: dict[str, str] = field(default_factory=dict)
    flow_results: list[tuple[str, FlowResult]] = field(default_factory=list)
    _current: dict[tuple[str, str], AgentAnswer] = field(default_factory=dict)

    def script(self, agent_id: str, *answers: AgentAnswer) -> None:
        """Queue how `agent_id` takes its next offers."""
        self.scripts.setdefault(agent_id, deque()).extend(answers)

    async def ring(
        self, leg: CallLeg, agent: AgentEndpoint, *, ring_timeout: Decimal, screen: Mapping[str, object]
    ) -> RingResult:
        script = self.scripts.get(agent.agent_id)
        plan = script.popleft() if script else self.default
        answer, ringing = _outcome(plan, float(ring_timeout))
        index = len(self.rings)
        self.rings.append(Ring(leg.call_id, agent.agent_id, trio.current_time(), dict(screen)))
        if await _caller_left_within(leg, ringing):
            raise CallEnded(leg.call_id)
        self.rings[index] = Ring(leg.call_id, agent.agent_id, self.rings[index].at, dict(screen), answer)
        self._current[(leg.call_id, agent.agent_id)] = plan
        return answer

    async def bridge(self, leg: CallLeg, agent: AgentEndpoint, *, flows: CallFlows | None = None) -> None:
        plan = self._current.pop((leg.call_id, agent.agent_id), self.default)
        self.talking[agent.agent_id] = leg.call_id
        try:
            if plan.flow is not None and flows is not None:
                try:
                    self.flow_results.append((leg.call_id, await flows.run(plan.flow, plan.inputs)))
                except CallEnded:
                    return
            await _caller_left_within(leg, plan.talk)
        finally:
            del self.talking[agent.agent_id]


def _outcome(plan: AgentAnswer, ring_timeout: float) -> tuple[RingResult, float]:
    """The answer and how long the phone rings before it."""
    if plan.answer in ("busy", "failed"):
        return plan.answer, min(plan.ring, ring_timeout)
    if plan.answer == "answered" and plan.ring <= ring_timeout:
        return "answered", plan.ring
    return "no_answer", ring_timeout


async def _caller_left_within(leg: CallLeg, seconds: float) -> bool:
    """Sleep `seconds`; True as soon as the caller hangs up (on legs that can tell)."""
    with trio.move_on_after(seconds):
        if isinstance(leg, HangupWatch):
            await leg.wait_ended()
            return True
        await trio.sleep_forever()
    return False
