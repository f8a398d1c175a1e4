"""The ACD core: a synchronous, deterministic model of queues and agents.

No trio, no clock: every method takes `now` (seconds) and returns the `Decision`s its
driver must carry out (ring an agent, turn a call away, wake an agent later). The trio
layer (`ivr.runtime.acd.service`) drives it for real calls; the hypothesis state machine
in the tests drives it directly.

Routing keeps one invariant after every method: no ready agent can serve any waiting call.
So only the call or agent that just changed needs matching. A new or returning call takes
the longest-idle ready agent having all its skills (a VIP call, priority at least the
queue's `vip_priority`, takes the most skilled one). An agent who becomes ready takes the
best waiting call it can serve: highest priority, then earliest arrival.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping

from ivr.runtime.acd.config import AcdSettings, QueueConfig
from ivr.runtime.acd.errors import AgentStateError, UnknownAgent
from ivr.runtime.acd.events import (
    AcdEvent,
    AgentState,
    AgentStateChanged,
    CallConnected,
    CallFinished,
    CallOffered,
    LeftQueue,
    QueueChanged,
)
from ivr.runtime.acd.index import AgentIndex, CallIndex
from ivr.runtime.acd.model import Agent, CallState, Decision, Eviction, Offer, QueuedCall, Wake
from ivr.runtime.acd.stats import AcdStatistics, AgentStatistics, QueueCounters

_CAN_LOG_OUT = {AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP}
_CAN_SET_READY = {AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP}


def _ignore(event: AcdEvent) -> None:
    pass


class AcdCore:
    def __init__(self, settings: AcdSettings, emit: Callable[[AcdEvent], None] = _ignore) -> None:
        self.settings = settings
        self._emit = emit
        self.calls: dict[str, QueuedCall] = {}  # in the ACD: waiting, ringing or connected
        self.agents: dict[str, Agent] = {}  # logged in
        self._in_queue: dict[str, dict[str, QueuedCall]] = {}  # waiting or ringing, per queue
        self._counters: dict[str, QueueCounters] = {}
        self._call_index = CallIndex(self.calls)
        self._agent_index = AgentIndex(self.agents)
        self._seq = itertools.count(1)  # calls' arrival order and agents' epochs: never reused
        for name in settings.queues:
            self._queue(name)

    def reconfigure(self, settings: AcdSettings) -> None:
        """Other queue settings from now on (a published version changed its queues); calls
        and agents stay where they are, and every later decision reads the new settings."""
        self.settings = settings
        for name in settings.queues:
            self._queue(name)

    # -- calls ----------------------------------------------------------------------------
    def add_call(
        self,
        call_id: str,
        queue: str,
        skills: Iterable[str],
        priority: int,
        now: float,
        screen: Mapping[str, object] | None = None,
    ) -> list[Decision]:
        """A call asks for an agent: an `Offer` now, an `Eviction` ("overflow",
        "no_agents"), or nothing (it waits)."""
        if call_id in self.calls:
            raise ValueError(f"call {call_id!r} is already in the ACD")
        config = self.settings.queue(queue)
        required = frozenset(skills) | frozenset(config.skills)
        counters, members = self._queue(queue)
        self._agent_index.track(required)
        if config.capacity is not None and len(members) >= config.capacity:
            counters.overflowed += 1
            return [Eviction(call_id, "overflow")]
        if not self._agent_index.covering(required):
            counters.rejected_no_agents += 1
            return [Eviction(call_id, "no_agents")]
        call = QueuedCall(call_id, queue, required, priority, next(self._seq), now, screen or {})
        self.calls[call_id] = members[call_id] = call
        counters.entered += 1
        self._emit(QueueChanged(now, queue, len(members)))
        return self._route_call(call, now)

    def answered(self, call_id: str, now: float) -> None:
        """The ringing agent picked up."""
        call = self._call(call_id, CallState.OFFERED)
        agent = self.agents[str(call.agent_id)]
        call.state, call.answered_at = CallState.CONNECTED, now
        config, (counters, members) = self.settings.queue(call.queue), self._queue(call.queue)
        del members[call_id]
        counters.answered += 1
        counters.total_wait += now - call.arrived
        counters.answered_within_threshold += now - call.arrived <= config.service_level_threshold
        self._set_state(agent, AgentState.ON_CALL, now)
        self._emit(CallConnected(now, call_id, agent.agent_id, call.queue))
        self._emit(QueueChanged(now, call.queue, len(members)))

    def finished(self, call_id: str, now: float) -> list[Decision]:
        """The conversation ended: the agent goes to wrap-up (or straight to ready)."""
        call = self._call(call_id, CallState.CONNECTED)
        agent = self.agents[str(call.agent_id)]
        counters = self._queue(call.queue)[0]
        counters.record_handle_time(now - (call.answered_at or now))
        agent.calls_handled += 1
        agent.call_id = None
        del self.calls[call_id]
        self._emit(CallFinished(now, call_id, call.queue, "completed", agent.agent_id))
        wrap_up = self.settings.queue(call.queue).wrap_up
        if wrap_up <= 0:
            return self._become_ready(agent, now)
        self._set_state(agent, AgentState.WRAP_UP, now)
        return [Wake(agent.agent_id, agent.epoch, now + wrap_up)]

    def not_answered(self, call_id: str, now: float) -> list[Decision]:
        """The agent let it ring out (or was busy): the agent goes not ready, the call goes
        back where it was in the queue (same priority and arrival) and is routed again."""
        call = self._call(call_id, CallState.OFFERED)
        agent = self.agents[str(call.agent_id)]
        agent.call_id, agent.no_answers = None, agent.no_answers + 1
        self._set_state(agent, AgentState.NOT_READY, now)
        call.state, call.agent_id = CallState.WAITING, None
        decisions: list[Decision] = []
        if self.settings.no_answer_cooldown is not None:
            decisions.append(Wake(agent.agent_id, agent.epoch, now + self.settings.no_answer_cooldown))
        return decisions + self._route_call(call, now)

    def time_out(self, call_id: str, now: float) -> None:
        """The call waited its maximum: it leaves the queue (only while waiting)."""
        call = self._call(call_id, CallState.WAITING)
        self._call_index.removed(call)
        self._queue(call.queue)[0].timed_out += 1
        self._leave(call, "timeout", now)

    def abandon(self, call_id: str, now: float) -> list[Decision]:
        """The caller hung up (or the call's task was cancelled), in any state. Unknown or
        already finished calls are ignored, so this is safe in cleanup code."""
        call = self.calls.get(call_id)
        if call is None:
            return []
        if call.state is CallState.CONNECTED:
            return self.finished(call_id, now)
        self._queue(call.queue)[0].abandoned += 1
        if call.state is CallState.WAITING:
            self._call_index.removed(call)
            self._leave(call, "abandoned", now)
            return []
        agent = self.agents[str(call.agent_id)]
        agent.call_id = None
        self._leave(call, "abandoned", now)
        return self._become_ready(agent, now, keep_idle=True)

    # -- agents ---------------------------------------------------------------------------
    def login(
        self, agent_id: str, address: str, skills: Mapping[str, int], now: float, *, ready: bool = False
    ) -> list[Decision]:
        """The agent logs in `not_ready` (or `ready`); `skills` maps skill to level."""
        if agent_id in self.agents:
            raise AgentStateError(f"agent {agent_id!r} is already logged in; log out first")
        agent = Agent(agent_id, address, dict(skills), order=next(self._seq), idle_since=now)
        agent.state = AgentState.LOGGED_OUT
        self.agents[agent_id] = agent
        self._agent_index.logged_in(agent)
        if ready:
            return self._become_ready(agent, now)
        self._set_state(agent, AgentState.NOT_READY, now)
        return []

    def logout(self, agent_id: str, now: float) -> list[Decision]:
        """The agent leaves. Calls waiting for skills nobody else has get "no_agents"."""
        agent = self._agent(agent_id, _CAN_LOG_OUT, "log out")
        self._set_state(agent, AgentState.LOGGED_OUT, now)
        del self.agents[agent_id]
        decisions: list[Decision] = []
        for skills in self._agent_index.logged_out(agent):
            for call in list(self._call_index.live(skills)):
                self._call_index.removed(call)
                self._queue(call.queue)[0].evicted += 1
                self._leave(call, "no_agents", now)
                decisions.append(Eviction(call.call_id, "no_agents"))
        return decisions

    def set_ready(self, agent_id: str, now: float) -> list[Decision]:
        """Ready for calls (also ends wrap-up early)."""
        agent = self._agent(agent_id, _CAN_SET_READY, "become ready")
        if agent.state is AgentState.READY:
            return []
        return self._become_ready(agent, now)

    def set_not_ready(self, agent_id: str, now: float) -> None:
        agent = self._agent(agent_id, _CAN_SET_READY, "become not ready")
        if agent.state is not AgentState.NOT_READY:
            self._set_state(agent, AgentState.NOT_READY, now)

    def end_wrap_up(self, agent_id: str, now: float) -> list[Decision]:
        self._agent(agent_id, {AgentState.WRAP_UP}, "end wrap-up")
        return self.set_ready(agent_id, now)

    def wake(self, agent_id: str, epoch: int, now: float) -> list[Decision]:
        """A `Wake` fell due: the agent becomes ready unless its state changed since."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.epoch != epoch:
            return []
        return self._become_ready(agent, now)

    # -- queries --------------------------------------------------------------------------
    def position(self, call_id: str) -> int:
        """1 for the next call served among those needing the same skills."""
        call = self.calls[call_id]
        if call.state is not CallState.WAITING:
            return 1
        return 1 + self._call_index.ahead_of(call)

    def expected_wait(self, call_id: str) -> float:
        """Position times the recent average handle time, shared by the capable agents."""
        call = self.calls[call_id]
        handle = self._queue(call.queue)[0].average_handle_time()
        if handle is None:
            handle = self.settings.queue(call.queue).default_handle_time
        return self.position(call_id) * handle / max(1, self._agent_index.covering(call.skills))

    def statistics(self, now: float) -> AcdStatistics:
        queues = {}
        for name, (counters, members) in ((n, self._queue(n)) for n in list(self._counters)):
            longest = max((now - call.arrived for call in members.values()), default=0.0)
            queues[name] = counters.snapshot(name, len(members), longest)
        agents = {agent_id: _agent_statistics(agent) for agent_id, agent in self.agents.items()}
        return AcdStatistics(queues, agents)

    def queue_config(self, name: str) -> QueueConfig:
        return self.settings.queue(name)

    # -- routing --------------------------------------------------------------------------
    def _route_call(self, call: QueuedCall, now: float) -> list[Decision]:
        vip = call.priority >= self.settings.queue(call.queue).vip_priority
        agent = self._agent_index.best(call.skills, vip=vip)
        if agent is None:
            self._call_index.push(call)
            return []
        return [self._offer(call, agent, now)]

    def _become_ready(self, agent: Agent, now: float, *, keep_idle: bool = False) -> list[Decision]:
        idle_since = agent.idle_since
        self._set_state(agent, AgentState.READY, now)
        if keep_idle:
            agent.idle_since = idle_since
        call = self._call_index.best_for(agent.covered)
        if call is None:
            self._agent_index.ready(agent)
            return []
        return [self._offer(call, agent, now)]

    def _offer(self, call: QueuedCall, agent: Agent, now: float) -> Offer:
        call.state, call.agent_id, agent.call_id = CallState.OFFERED, agent.agent_id, call.call_id
        self._set_state(agent, AgentState.RESERVED, now)
        self._emit(CallOffered(now, call.call_id, agent.agent_id, call.queue, call.screen))
        return Offer(call.call_id, agent.agent_id, agent.address)

    # -- helpers --------------------------------------------------------------------------
    def _set_state(self, agent: Agent, state: AgentState, now: float) -> None:
        previous, agent.state, agent.epoch = agent.state, state, next(self._seq)
        if state is AgentState.READY:
            agent.idle_since = now
        self._emit(AgentStateChanged(now, agent.agent_id, state, previous))

    def _leave(self, call: QueuedCall, outcome: LeftQueue, now: float) -> None:
        members = self._queue(call.queue)[1]
        del self.calls[call.call_id], members[call.call_id]
        self._emit(CallFinished(now, call.call_id, call.queue, outcome))
        self._emit(QueueChanged(now, call.queue, len(members)))

    def _queue(self, name: str) -> tuple[QueueCounters, dict[str, QueuedCall]]:
        if name not in self._counters:
            self._counters[name] = QueueCounters(window=self.settings.handle_time_window)
            self._in_queue[name] = {}
        return self._counters[name], self._in_queue[name]

    def _call(self, call_id: str, state: CallState) -> QueuedCall:
        call = self.calls.get(call_id)
        if call is None or call.state is not state:
            found = "not in the ACD" if call is None else call.state.value
            raise ValueError(f"call {call_id!r} is {found}, expected {state.value}")
        return call

    def _agent(self, agent_id: str, allowed: set[AgentState], action: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(f"agent {agent_id!r} is not logged in; log in first")
        if agent.state not in allowed:
            raise AgentStateError(
                f"agent {agent_id!r} cannot {action} while {agent.state.value}; finish the call first"
            )
        return agent


def _agent_statistics(agent: Agent) -> AgentStatistics:
    return AgentStatistics(
        agent_id=agent.agent_id,
        address=agent.address,
        state=agent.state,
        skills=dict(agent.skills),
        calls_handled=agent.calls_handled,
        no_answers=agent.no_answers,
        idle_since=agent.idle_since,
        call_id=agent.call_id,
    )
