"""The ACD core's indexes, so a routing decision never scans every call or agent.

`CallIndex` keeps waiting calls in one heap per required skill set, ordered by (priority
descending, arrival). `AgentIndex` keeps ready agents in two heaps per tracked skill set:
longest idle first, and most skilled first (for VIP calls). Both delete lazily: an entry is
live only while its record still matches (the call is waiting with that arrival number; the
agent is ready with that epoch), and a heap is rebuilt when stale entries dominate it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping

from ivr.runtime.acd.events import AgentState
from ivr.runtime.acd.model import Agent, CallState, QueuedCall, SkillSet

_CallEntry = tuple[int, int, str]  # (-priority, seq, call_id)
# (idle_since, 0, order, agent_id, epoch) or, most skilled first, (-level, idle_since, ...)
_AgentEntry = tuple[float, float, int, str, int]


class CallIndex:
    def __init__(self, calls: Mapping[str, QueuedCall]) -> None:
        self._calls = calls
        self._heaps: dict[SkillSet, list[_CallEntry]] = {}
        self._live: dict[SkillSet, int] = {}

    def push(self, call: QueuedCall) -> None:
        heap = self._heaps.setdefault(call.skills, [])
        heapq.heappush(heap, (-call.priority, call.seq, call.call_id))
        self._live[call.skills] = self._live.get(call.skills, 0) + 1

    def removed(self, call: QueuedCall) -> None:
        """A waiting call left without being popped; its entry goes stale."""
        self._live[call.skills] -= 1
        heap = self._heaps[call.skills]
        if len(heap) > 64 and len(heap) > 4 * self._live[call.skills]:
            self._heaps[call.skills] = [entry for entry in heap if self._valid(entry)]
            heapq.heapify(self._heaps[call.skills])

    def waiting(self, skills: SkillSet) -> int:
        return self._live.get(skills, 0)

    def peek(self, skills: SkillSet) -> QueuedCall | None:
        heap = self._heaps.get(skills)
        while heap:
            if self._valid(heap[0]):
                return self._calls[heap[0][2]]
            heapq.heappop(heap)
        return None

    def pop(self, skills: SkillSet) -> QueuedCall:
        call = self.peek(skills)
        assert call is not None
        heapq.heappop(self._heaps[skills])
        self._live[skills] -= 1
        return call

    def best_for(self, covered: list[SkillSet]) -> QueuedCall | None:
        """The best waiting call among the skill sets an agent covers, popped."""
        best: QueuedCall | None = None
        for skills in covered:
            call = self.peek(skills)
            if call is not None and (best is None or call.rank < best.rank):
                best = call
        return None if best is None else self.pop(best.skills)

    def ahead_of(self, call: QueuedCall) -> int:
        """How many waiting calls with the same skills will be served before `call`."""
        rank = call.rank
        heap = self._heaps.get(call.skills, [])
        return sum(1 for entry in heap if entry[:2] < rank and self._valid(entry))

    def live(self, skills: SkillSet) -> Iterator[QueuedCall]:
        for entry in self._heaps.get(skills, []):
            if self._valid(entry):
                yield self._calls[entry[2]]

    def _valid(self, entry: _CallEntry) -> bool:
        call = self._calls.get(entry[2])
        return call is not None and call.seq == entry[1] and call.state is CallState.WAITING


class AgentIndex:
    def __init__(self, agents: Mapping[str, Agent]) -> None:
        self._agents = agents
        self._by_idle: dict[SkillSet, list[_AgentEntry]] = {}
        self._by_level: dict[SkillSet, list[_AgentEntry]] = {}
        self._covering: dict[SkillSet, int] = {}

    def track(self, skills: SkillSet) -> None:
        """Start indexing a skill set (once, on the first call needing it): O(agents)."""
        if skills in self._covering:
            return
        self._by_idle[skills], self._by_level[skills] = [], []
        self._covering[skills] = 0
        for agent in self._agents.values():
            if skills <= agent.skills.keys():
                agent.covered.append(skills)
                self._covering[skills] += 1
                if agent.state is AgentState.READY:
                    self._push(skills, agent)

    def covering(self, skills: SkillSet) -> int:
        """Logged-in agents (in any state) having every skill in `skills`."""
        return self._covering.get(skills, 0)

    def logged_in(self, agent: Agent) -> None:
        agent.covered = [skills for skills in self._covering if skills <= agent.skills.keys()]
        for skills in agent.covered:
            self._covering[skills] += 1

    def logged_out(self, agent: Agent) -> list[SkillSet]:
        """Forget the agent; the skill sets that nobody covers any more."""
        orphaned = []
        for skills in agent.covered:
            self._covering[skills] -= 1
            if not self._covering[skills]:
                orphaned.append(skills)
        return orphaned

    def ready(self, agent: Agent) -> None:
        for skills in agent.covered:
            self._push(skills, agent)

    def best(self, skills: SkillSet, *, vip: bool) -> Agent | None:
        """The ready agent for a call needing `skills`: longest idle, or for a VIP the most
        skilled (then longest idle). Not removed: offering it changes its epoch."""
        heap = (self._by_level if vip else self._by_idle)[skills]
        while heap:
            if self._valid(heap[0]):
                return self._agents[heap[0][3]]
            heapq.heappop(heap)
        return None

    def _valid(self, entry: _AgentEntry) -> bool:
        agent = self._agents.get(entry[3])
        return agent is not None and agent.state is AgentState.READY and agent.epoch == entry[4]

    def _push(self, skills: SkillSet, agent: Agent) -> None:
        tail = (agent.order, agent.agent_id, agent.epoch)
        for heap, entry in (
            (self._by_idle[skills], (agent.idle_since, 0.0, *tail)),
            (self._by_level[skills], (float(-agent.level(skills)), agent.idle_since, *tail)),
        ):
            heapq.heappush(heap, entry)
            if len(heap) > 64 and len(heap) > 4 * self._covering[skills]:
                heap[:] = [kept for kept in heap if self._valid(kept)]
                heapq.heapify(heap)
