"""A hypothesis state machine over the synchronous ACD core: random calls, agents and
answers, checking after every step that routing is fair and nothing is lost."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ivr.runtime.acd import (
    AcdCore,
    AcdEvent,
    AcdSettings,
    AgentState,
    CallFinished,
    Decision,
    Eviction,
    Offer,
    QueueConfig,
    Wake,
)
from ivr.runtime.acd.model import Agent, CallState, QueuedCall

SETTINGS = AcdSettings(
    {
        "q1": QueueConfig("q1", wrap_up=0, vip_priority=10),
        "q2": QueueConfig("q2", skills=("x",), capacity=4, wrap_up=3, vip_priority=5),
    },
    no_answer_cooldown=2,
)
AGENTS = ["a1", "a2", "a3", "a4", "a5"]
SKILLS = ["x", "y", "z"]
OUTCOMES = {"completed", "abandoned", "timeout", "no_agents", "overflow"}


def covers(agent: Agent, call: QueuedCall) -> bool:
    return call.skills <= agent.skills.keys()


class AcdMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.events: list[AcdEvent] = []
        self.core = AcdCore(SETTINGS, self.events.append)
        self.added: list[str] = []
        self.rejected: dict[str, str] = {}
        self.answered: Counter[str] = Counter()
        self.wakes: list[Wake] = []
        self.offers: list[Offer] = []

    # -- helpers ------------------------------------------------------------------------
    def apply(self, decisions: list[Decision]) -> None:
        self.offers = [d for d in decisions if isinstance(d, Offer)]
        self.wakes += [d for d in decisions if isinstance(d, Wake)]
        for decision in decisions:
            if isinstance(decision, Eviction) and decision.call_id not in self.finished():
                self.rejected[decision.call_id] = decision.outcome

    def finished(self) -> dict[str, str]:
        return {e.call_id: e.outcome for e in self.events if isinstance(e, CallFinished)}

    def calls_in(self, state: CallState) -> list[str]:
        return sorted(c.call_id for c in self.core.calls.values() if c.state is state)

    def agents_in(self, *states: AgentState) -> list[str]:
        return sorted(a.agent_id for a in self.core.agents.values() if a.state in states)

    # -- rules: calls -------------------------------------------------------------------
    @rule(
        queue=st.sampled_from(["q1", "q2"]),
        skills=st.sets(st.sampled_from(SKILLS), max_size=2),
        priority=st.sampled_from([0, 0, 1, 5, 10]),
    )
    def add_call(self, queue: str, skills: set[str], priority: int) -> None:
        call_id = f"c{len(self.added) + 1}"
        self.added.append(call_id)
        self.apply(self.core.add_call(call_id, queue, skills, priority, self.now))

    @precondition(lambda self: self.calls_in(CallState.OFFERED))
    @rule(data=st.data(), answers=st.booleans())
    def agent_rings(self, data: st.DataObject, answers: bool) -> None:
        call_id = data.draw(st.sampled_from(self.calls_in(CallState.OFFERED)))
        if answers:
            self.core.answered(call_id, self.now)
            self.answered[self.core.calls[call_id].queue] += 1
            self.offers = []
        else:
            self.apply(self.core.not_answered(call_id, self.now))

    @precondition(lambda self: self.calls_in(CallState.CONNECTED))
    @rule(data=st.data())
    def conversation_ends(self, data: st.DataObject) -> None:
        call_id = data.draw(st.sampled_from(self.calls_in(CallState.CONNECTED)))
        self.apply(self.core.finished(call_id, self.now))

    @precondition(lambda self: self.core.calls)
    @rule(data=st.data())
    def caller_hangs_up(self, data: st.DataObject) -> None:
        self.apply(self.core.abandon(data.draw(st.sampled_from(sorted(self.core.calls))), self.now))

    @precondition(lambda self: self.calls_in(CallState.WAITING))
    @rule(data=st.data())
    def max_wait_passes(self, data: st.DataObject) -> None:
        self.core.time_out(data.draw(st.sampled_from(self.calls_in(CallState.WAITING))), self.now)
        self.offers = []

    @rule(seconds=st.sampled_from([0.5, 1.0, 2.0, 5.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        due = sorted((w for w in self.wakes if w.at <= self.now), key=lambda w: w.at)
        self.wakes = [w for w in self.wakes if w.at > self.now]
        for wake in due:
            self.apply(self.core.wake(wake.agent_id, wake.epoch, self.now))
            self.check_offers()

    # -- rules: agents ------------------------------------------------------------------
    @rule(
        agent_id=st.sampled_from(AGENTS),
        skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=3),
        ready=st.booleans(),
    )
    def login(self, agent_id: str, skills: dict[str, int], ready: bool) -> None:
        if agent_id not in self.core.agents:
            self.apply(self.core.login(agent_id, f"sip:{agent_id}@pbx", skills, self.now, ready=ready))

    @precondition(lambda self: self.agents_in(AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP))
    @rule(data=st.data(), action=st.sampled_from(["logout", "ready", "not_ready", "end_wrap_up"]))
    def agent_acts(self, data: st.DataObject, action: str) -> None:
        free = self.agents_in(AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP)
        agent_id = data.draw(st.sampled_from(free))
        self.offers = []
        if action == "logout":
            self.apply(self.core.logout(agent_id, self.now))
        elif action == "ready":
            self.apply(self.core.set_ready(agent_id, self.now))
        elif action == "not_ready":
            self.core.set_not_ready(agent_id, self.now)
        elif self.core.agents[agent_id].state is AgentState.WRAP_UP:
            self.apply(self.core.end_wrap_up(agent_id, self.now))

    # -- invariants ---------------------------------------------------------------------
    @invariant()
    def an_agent_never_holds_two_calls(self) -> None:
        holders = Counter(c.agent_id for c in self.core.calls.values() if c.agent_id is not None)
        assert all(count == 1 for count in holders.values())
        for agent in self.core.agents.values():
            busy = agent.state in (AgentState.RESERVED, AgentState.ON_CALL)
            assert (agent.call_id is not None) == busy
            if busy:
                call = self.core.calls[str(agent.call_id)]
                assert call.agent_id == agent.agent_id and covers(agent, call)

    @invariant()
    def no_ready_agent_could_serve_a_waiting_call(self) -> None:
        waiting = [self.core.calls[c] for c in self.calls_in(CallState.WAITING)]
        for agent in self.core.agents.values():
            if agent.state is AgentState.READY:
                assert not any(covers(agent, call) for call in waiting)

    @invariant()
    def check_offers(self) -> None:
        """The offered call was the best the agent could serve (priority, then first come),
        and no other ready agent fitted it better (longest idle, or most skilled for a VIP)."""
        for offer in self.offers:
            call, agent = self.core.calls[offer.call_id], self.core.agents[offer.agent_id]
            assert call.state is CallState.OFFERED and call.agent_id == agent.agent_id
            for other in self.core.calls.values():
                if other.state is CallState.WAITING and covers(agent, other):
                    assert other.rank > call.rank
            vip = call.priority >= SETTINGS.queue(call.queue).vip_priority
            for rival in self.core.agents.values():
                if rival.state is AgentState.READY and covers(rival, call):
                    assert self.fit(rival, call, vip) > self.fit(agent, call, vip)
        self.offers = []

    @staticmethod
    def fit(agent: Agent, call: QueuedCall, vip: bool) -> tuple[float, ...]:
        idle = (agent.idle_since, agent.order)
        return (-agent.level(call.skills), *idle) if vip else idle

    @invariant()
    def no_call_is_lost(self) -> None:
        finished = self.finished()
        live = set(self.core.calls)
        assert not live & finished.keys() and not live & self.rejected.keys()
        assert live | finished.keys() | self.rejected.keys() == set(self.added)
        assert set(finished.values()) | set(self.rejected.values()) <= OUTCOMES

    @invariant()
    def statistics_are_consistent(self) -> None:
        stats = self.core.statistics(self.now)
        outcomes = Counter((self.queue_of(c), o) for c, o in self.finished().items())
        for name, queue in stats.queues.items():
            in_queue = [c for c in self.core.calls.values() if c.queue == name]
            assert queue.waiting == sum(c.state is not CallState.CONNECTED for c in in_queue)
            assert queue.answered == self.answered[name]
            assert queue.abandoned == outcomes[(name, "abandoned")]
            assert queue.timed_out == outcomes[(name, "timeout")]
            left = queue.answered + queue.abandoned + queue.timed_out + outcomes[(name, "no_agents")]
            assert queue.entered == queue.waiting + left
            assert queue.answered_within_threshold <= queue.answered
        handled = sum(a.calls_handled for a in stats.agents.values())
        assert handled <= sum(1 for o in self.finished().values() if o == "completed")

    def queue_of(self, call_id: str) -> str:
        return next(e.queue for e in self.events if isinstance(e, CallFinished) and e.call_id == call_id)


AcdMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_acd_core_state_machine = AcdMachine.TestCase
