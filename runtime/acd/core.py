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

A call keeps its one entry (and its place in line) while agents hand it on: to another
queue (`requeue`), to a named agent (`transfer_to_agent`), to a second agent after a
consultation (`consult` ... `complete_transfer`), or out of the ACD (`release_agent`).
Each agent's part ends with wrap-up; an agent who is only consulted goes back to the
state it had.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping

from ivr.runtime.acd.config import AcdSettings, QueueConfig
from ivr.runtime.acd.errors import AgentStateError, UnknownAgent
from ivr.runtime.acd.events import (
    AcdEvent,
    AgentLeft,
    AgentPart,
    AgentState,
    AgentStateChanged,
    CallConnected,
    CallFinished,
    CallOffered,
    LeftQueue,
    QueueChanged,
)
from ivr.runtime.acd.handover import Handovers
from ivr.runtime.acd.index import AgentIndex, CallIndex
from ivr.runtime.acd.model import (
    Agent,
    CallState,
    Decision,
    Evicted,
    Eviction,
    Offer,
    QueuedCall,
    Wake,
)
from ivr.runtime.acd.places import PlaceKeeping
from ivr.runtime.acd.remote import RemoteCall, RemoteCalls
from ivr.runtime.acd.stats import AcdStatistics, AgentStatistics, QueueCounters
from ivr.runtime.ports import RingResult

_CAN_LOG_OUT = {AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP}
_CAN_SET_READY = {AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP}
MAX_WRAP_UP = 600.0  # seconds: how far an agent may extend wrap-up from now


def _ignore(event: AcdEvent) -> None:
    pass


class AcdCore(Handovers, PlaceKeeping, RemoteCalls):
    def __init__(self, settings: AcdSettings, emit: Callable[[AcdEvent], None] = _ignore) -> None:
        self.settings = settings
        self._emit = emit
        self.calls: dict[str, QueuedCall] = {}  # in the ACD: waiting, ringing, connected, external
        self.agents: dict[str, Agent] = {}  # logged in
        self.remote_calls: dict[str, RemoteCall] = {}  # shared calls its agents follow (remote.py)
        self._in_queue: dict[str, dict[str, QueuedCall]] = {}  # waiting or ringing, per queue
        self._counters: dict[str, QueueCounters] = {}
        self._call_index = CallIndex(self.calls)
        self._agent_index = AgentIndex(self.agents)
        self._seq = itertools.count(1)  # calls' arrival order and agents' epochs: never reused
        self._freed_together: list[Agent] | None = None  # agents one event frees, routed at its end
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
        required = frozenset(skills) | frozenset(self.settings.queue(queue).skills)
        refused = self._refusal(queue, required)
        if refused is not None:
            counters = self._queue(queue)[0]
            if refused == "overflow":
                counters.overflowed += 1
            else:
                counters.rejected_no_agents += 1
            return [Eviction(call_id, refused)]
        call = QueuedCall(call_id, queue, required, priority, next(self._seq), now, screen or {})
        self.calls[call_id] = call
        self._enter(call, now)
        return self._route_call(call, now)

    def answered(self, call_id: str, now: float) -> None:
        """The ringing agent picked up."""
        call = self._call(call_id, CallState.OFFERED)
        agent = self.agents[str(call.agent_id)]
        call.state, call.answered_at = CallState.CONNECTED, now
        if call.queued:
            config, (counters, members) = self.settings.queue(call.queue), self._queue(call.queue)
            del members[call_id]
            call.queued = False
            counters.answered += 1
            counters.total_wait += now - call.arrived
            counters.answered_within_threshold += now - call.arrived <= config.service_level_threshold
            self._emit(QueueChanged(now, call.queue, len(members)))
        self._set_state(agent, AgentState.ON_CALL, now)
        self._emit(CallConnected(now, call_id, agent.agent_id, call.queue, call.offer))

    def finished(self, call_id: str, now: float) -> list[Decision]:
        """The conversation ended (with an agent, or with someone outside the ACD): the call
        leaves the ACD and its agent goes to wrap-up (or straight to ready)."""
        call = self.calls.get(call_id)
        if call is None or call.state not in (CallState.CONNECTED, CallState.EXTERNAL):
            found = "not in the ACD" if call is None else call.state.value
            raise ValueError(f"call {call_id!r} is {found}, expected connected")
        self._freed_together = []  # the agent and a consulted one are free at the same moment
        try:
            decisions = self._end_consult(call, now, "consult_ended")
            del self.calls[call_id]
            agent = self.agents.get(call.agent_id) if call.agent_id is not None else None
            self._emit(CallFinished(now, call_id, call.queue, "completed", call.agent_id))
            if agent is not None:
                self._queue(call.queue)[0].record_handle_time(now - (call.answered_at or now))
                agent.calls_handled += 1
                agent.call_id = None
                decisions += self._after_call(agent, call.queue, now)
            freed, self._freed_together = self._freed_together, None
        finally:
            self._freed_together = None
        return decisions + self._route_to_freed(freed, now)

    def _route_to_freed(self, freed: list[Agent], now: float) -> list[Decision]:
        """Agents who became ready together take the waiting calls they cover, best call
        first, each to the best ready agent for it (not to whichever was freed first)."""
        decisions: list[Decision] = []
        while True:
            covered = {
                skills for agent in freed if agent.state is AgentState.READY for skills in agent.covered
            }
            call = self._call_index.best_for(list(covered))
            routed = self._route_call(call, now) if call is not None else []
            if not routed:  # nothing waiting they cover (a call with nobody for it waits again)
                return decisions
            decisions += routed

    def bridge_ended(self, call_id: str, now: float) -> list[Decision]:
        """The driver's conversation returned: the call is finished unless a transfer moved
        it back into the ACD meanwhile (then it waits or rings again)."""
        call = self.calls.get(call_id)
        if call is None or call.state not in (CallState.CONNECTED, CallState.EXTERNAL):
            return []
        return self.finished(call_id, now)

    def not_answered(self, call_id: str, now: float, result: RingResult = "no_answer") -> list[Decision]:
        """The agent let it ring out (or was busy, or its phone failed): the agent goes not
        ready, the call goes back where it was in its queue (same priority and arrival) and
        is routed again. A call transferred to this agent by name returns to its queue."""
        call = self._call(call_id, CallState.OFFERED)
        agent = self.agents[str(call.agent_id)]
        agent.call_id, agent.no_answers = None, agent.no_answers + 1
        outcome: AgentPart = "no_answer" if result == "answered" else result
        self._set_state(agent, AgentState.NOT_READY, now, reason="no_answer")
        self._emit(AgentLeft(now, call_id, agent.agent_id, call.queue, outcome))
        call.state, call.agent_id, call.offer, call.offered_by = CallState.WAITING, None, "queue", None
        if not call.queued:
            self._enter(call, now)
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
        if call.state in (CallState.CONNECTED, CallState.EXTERNAL):
            return self.finished(call_id, now)
        if call.queued:
            self._queue(call.queue)[0].abandoned += 1
        if call.state in (CallState.WAITING, CallState.DEFERRED):
            if call.state is CallState.WAITING:  # a deferred kept place is not in the index
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
                if call.callback is not None:
                    continue  # a kept place waits for the next agent who logs in
                self._call_index.removed(call)
                self._queue(call.queue)[0].evicted += 1
                self._leave(call, "no_agents", now)
                decisions.append(Eviction(call.call_id, "no_agents"))
        return decisions

    def set_ready(self, agent_id: str, now: float) -> list[Decision]:
        """Ready for calls (also ends wrap-up early)."""
        agent = self._agent(agent_id, _CAN_SET_READY, "become ready")
        agent.after_call = None
        if agent.state is AgentState.READY:
            return []
        return self._become_ready(agent, now)

    def set_not_ready(self, agent_id: str, now: float, reason: str | None = None) -> None:
        """Not ready, with a reason for the reports (break, training, ...)."""
        agent = self._agent(agent_id, _CAN_SET_READY, "become not ready")
        agent.after_call = None
        if agent.state is not AgentState.NOT_READY or agent.reason != reason:
            self._set_state(agent, AgentState.NOT_READY, now, reason=reason)

    def not_ready_after_call(self, agent_id: str, reason: str | None, now: float) -> None:
        """During a call (ringing or talking): go not ready with `reason` once it ends,
        instead of ready after wrap-up; `reason=None` takes the wish back."""
        agent = self._agent(agent_id, {AgentState.RESERVED, AgentState.ON_CALL}, "plan not ready")
        agent.after_call = reason
        self._emit(self._changed(agent, agent.state, now))

    def extend_wrap_up(self, agent_id: str, seconds: float, now: float) -> list[Decision]:
        """More time to finish the paperwork (up to `MAX_WRAP_UP` from now)."""
        agent = self._agent(agent_id, {AgentState.WRAP_UP}, "extend wrap-up")
        until = min((agent.wrap_up_until or now) + max(0.0, seconds), now + MAX_WRAP_UP)
        self._set_state(agent, AgentState.WRAP_UP, now, until=until)
        return [Wake(agent_id, agent.epoch, until)]

    def end_wrap_up(self, agent_id: str, now: float) -> list[Decision]:
        self._agent(agent_id, {AgentState.WRAP_UP}, "end wrap-up")
        return self.set_ready(agent_id, now)

    def wake(self, agent_id: str, epoch: int, now: float, *, early: bool = False) -> list[Decision]:
        """A `Wake` fell due: the agent becomes ready unless its state changed since (or it
        asked to be not ready after its call). An `early` one (wrap-up ends soon) only lets
        a kept place that is next in line for the agent take it."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.epoch != epoch:
            return []
        if early:
            return self.kept_place_before_wrap_up_ends(agent, now)
        if agent.after_call is not None:
            reason, agent.after_call = agent.after_call, None
            self._set_state(agent, AgentState.NOT_READY, now, reason=reason or None)
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

    def best_ready_agent(self, queue: str) -> Agent | None:
        """The ready agent the queue would offer its next call to (for a consultation)."""
        skills = frozenset(self.settings.queue(queue).skills)
        self._agent_index.track(skills)
        return self._agent_index.best(skills, vip=False)

    def statistics(self, now: float) -> AcdStatistics:
        queues = {}
        for name, (counters, members) in ((n, self._queue(n)) for n in list(self._counters)):
            longest = max((now - call.arrived for call in members.values()), default=0.0)
            queues[name] = counters.snapshot(name, len(members), longest)
        agents = {agent_id: _agent_statistics(agent) for agent_id, agent in self.agents.items()}
        return AcdStatistics(queues, agents)

    def queue_config(self, name: str) -> QueueConfig:
        return self.settings.queue(name)

    def offer_screen(self, call_id: str) -> Mapping[str, object]:
        """What the ringing agent's phone and desktop show: the call's screen data, plus who
        transferred it."""
        call = self.calls[call_id]
        if call.offered_by is None:
            return call.screen
        return {**call.screen, "transferred_from": call.offered_by}

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
        if self._freed_together is not None:
            self._agent_index.ready(agent)
            self._freed_together.append(agent)
            return []
        call = self._call_index.best_for(agent.covered)
        if call is None:
            self._agent_index.ready(agent)
            return []
        return [self._offer(call, agent, now)]

    def _offer(self, call: QueuedCall, agent: Agent, now: float) -> Offer:
        call.state, call.agent_id, agent.call_id = CallState.OFFERED, agent.agent_id, call.call_id
        self._set_state(agent, AgentState.RESERVED, now)
        if call.callback is not None:  # a kept place: offered to the desk once the customer answers
            return Offer(call.call_id, agent.agent_id, agent.address)
        screen = self.offer_screen(call.call_id)
        self._emit(
            CallOffered(now, call.call_id, agent.agent_id, call.queue, screen, call.offer, call.offered_by)
        )
        return Offer(call.call_id, agent.agent_id, agent.address)

    def _after_call(self, agent: Agent, queue: str, now: float) -> list[Decision]:
        """Wrap-up for the queue's time; then ready, or not ready if the agent asked."""
        wrap_up = self.settings.queue(queue).wrap_up
        if wrap_up > 0:
            self._set_state(agent, AgentState.WRAP_UP, now, until=now + wrap_up)
            decisions: list[Decision] = [Wake(agent.agent_id, agent.epoch, now + wrap_up)]
            lead = self.settings.callback_lead
            if lead is not None and wrap_up > lead:
                decisions.append(Wake(agent.agent_id, agent.epoch, now + wrap_up - lead, early=True))
            return decisions
        if agent.after_call is not None:
            reason, agent.after_call = agent.after_call, None
            self._set_state(agent, AgentState.NOT_READY, now, reason=reason or None)
            return []
        return self._become_ready(agent, now)

    # -- helpers --------------------------------------------------------------------------
    def _set_state(
        self,
        agent: Agent,
        state: AgentState,
        now: float,
        *,
        reason: str | None = None,
        until: float | None = None,
    ) -> None:
        previous, agent.state, agent.epoch = agent.state, state, next(self._seq)
        agent.reason = reason if state is AgentState.NOT_READY else None
        agent.wrap_up_until = until if state is AgentState.WRAP_UP else None
        if state is AgentState.READY:
            agent.idle_since = now
        if state is AgentState.LOGGED_OUT:
            agent.after_call = None
        self._emit(self._changed(agent, previous, now))

    @staticmethod
    def _changed(agent: Agent, previous: AgentState, now: float) -> AgentStateChanged:
        return AgentStateChanged(
            now, agent.agent_id, agent.state, previous, agent.reason, agent.wrap_up_until, agent.after_call
        )

    def _refusal(self, queue: str, skills: frozenset[str]) -> Evicted | None:
        config, (_, members) = self.settings.queue(queue), self._queue(queue)
        self._agent_index.track(skills)
        if config.capacity is not None and len(members) >= config.capacity:
            return "overflow"
        if not self._agent_index.covering(skills):
            return "no_agents"
        return None

    def _enter(self, call: QueuedCall, now: float) -> None:
        """The call joins its queue's members (a first arrival, or a return after a transfer)."""
        counters, members = self._queue(call.queue)
        members[call.call_id] = call
        call.queued, call.arrived, call.agent_id = True, now, None
        call.offer, call.offered_by = "queue", None
        counters.entered += 1
        self._emit(QueueChanged(now, call.queue, len(members)))

    def _leave(self, call: QueuedCall, outcome: LeftQueue, now: float) -> None:
        members = self._queue(call.queue)[1]
        del self.calls[call.call_id]
        if members.pop(call.call_id, None) is not None:
            self._emit(QueueChanged(now, call.queue, len(members)))
        self._emit(CallFinished(now, call.call_id, call.queue, outcome))

    def _next_seq(self) -> int:
        return next(self._seq)

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
        reason=agent.reason,
        after_call=agent.after_call,
        wrap_up_until=agent.wrap_up_until,
    )
