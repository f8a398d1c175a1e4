"""A hypothesis state machine over the synchronous ACD core: random calls, agents, answers
and transfers (to queues, to named agents, consultations, out of the ACD), checking after
every step that routing is fair, no agent holds two calls and nothing is lost."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

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
    TransferError,
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
        self.abandoned: Counter[str] = Counter()
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

    def calls_in(self, *states: CallState) -> list[str]:
        return sorted(c.call_id for c in self.core.calls.values() if c.state in states)

    def connected_without_consult(self) -> list[str]:
        return [c for c in self.calls_in(CallState.CONNECTED) if self.core.calls[c].consult is None]

    def consulting(self) -> list[str]:
        return [c for c in self.calls_in(CallState.CONNECTED) if self.core.calls[c].consult is not None]

    def snapshot(self) -> object:
        calls = {c.call_id: (c.state, c.queue, c.agent_id, c.consult) for c in self.core.calls.values()}
        agents = {a.agent_id: (a.state, a.call_id, a.epoch) for a in self.core.agents.values()}
        return calls, agents, len(self.events)

    def agents_in(self, *states: AgentState) -> list[str]:
        return sorted(a.agent_id for a in self.core.agents.values() if a.state in states)

    @initialize(staff=st.integers(0, 3))
    def a_shift_starts(self, staff: int) -> None:
        """Some agents who can take anything are there from the start (so that calls get
        connected often enough for transfers to be tried)."""
        for agent_id in AGENTS[:staff]:
            self.apply(
                self.core.login(
                    agent_id, f"sip:{agent_id}@pbx", dict.fromkeys(SKILLS, 3), self.now, ready=True
                )
            )

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
    @rule(data=st.data(), answers=st.booleans(), after=st.sampled_from([None, None, "break"]))
    def agent_rings(self, data: st.DataObject, answers: bool, after: str | None) -> None:
        live = [c for c in self.calls_in(CallState.OFFERED) if self.core.calls[c].callback is None]
        if not live:
            return  # only kept places are offered: their customers are being called
        call_id = data.draw(st.sampled_from(live))
        self.core.not_ready_after_call(str(self.core.calls[call_id].agent_id), after, self.now)
        if answers:
            call = self.core.calls[call_id]
            self.answered[call.queue] += call.queued
            self.core.answered(call_id, self.now)
            self.offers = []
        else:
            self.apply(self.core.not_answered(call_id, self.now))

    @precondition(lambda self: self.calls_in(CallState.CONNECTED, CallState.EXTERNAL))
    @rule(data=st.data())
    def conversation_ends(self, data: st.DataObject) -> None:
        call_id = data.draw(st.sampled_from(self.calls_in(CallState.CONNECTED, CallState.EXTERNAL)))
        self.apply(self.core.bridge_ended(call_id, self.now))

    @precondition(lambda self: self.core.calls)
    @rule(data=st.data())
    def caller_hangs_up(self, data: st.DataObject) -> None:
        call = self.core.calls[data.draw(st.sampled_from(sorted(self.core.calls)))]
        self.abandoned[call.queue] += call.queued
        self.apply(self.core.abandon(call.call_id, self.now))

    # -- rules: kept places (callbacks) ---------------------------------------------------
    def kept(self, state: CallState) -> list[str]:
        return [c for c in self.calls_in(state) if self.core.calls[c].callback is not None]

    @precondition(lambda self: self.calls_in(CallState.WAITING))
    @rule(data=st.data())
    def caller_presses_the_callback_key(self, data: st.DataObject) -> None:
        waiting = [c for c in self.calls_in(CallState.WAITING) if self.core.calls[c].callback is None]
        if waiting:
            call_id = data.draw(st.sampled_from(waiting))
            self.core.keep_place(call_id, f"139{call_id}", self.now)

    @precondition(lambda self: self.kept(CallState.OFFERED))
    @rule(data=st.data(), reached=st.booleans(), retry=st.booleans())
    def kept_place_is_called_back(self, data: st.DataObject, reached: bool, retry: bool) -> None:
        call_id = data.draw(st.sampled_from(self.kept(CallState.OFFERED)))
        if reached:  # the customer answered: the entry is a live call known by its new leg
            leg_id = f"{call_id}-cb"
            self.core.callback_answered(call_id, leg_id, self.now)
            self.added[self.added.index(call_id)] = leg_id
            return
        queue = self.core.calls[call_id].queue
        self.abandoned[queue] += not retry
        self.apply(self.core.callback_unanswered(call_id, self.now, retry=retry))

    @precondition(lambda self: self.calls_in(CallState.DEFERRED))
    @rule(data=st.data())
    def kept_place_retry_falls_due(self, data: st.DataObject) -> None:
        self.apply(
            self.core.callback_due(data.draw(st.sampled_from(self.calls_in(CallState.DEFERRED))), self.now)
        )

    # -- rules: transfers ---------------------------------------------------------------
    @precondition(lambda self: self.calls_in(CallState.CONNECTED, CallState.EXTERNAL))
    @rule(data=st.data(), queue=st.sampled_from(["q1", "q2"]))
    def transfer_to_a_queue(self, data: st.DataObject, queue: str) -> None:
        call = self.core.calls[
            data.draw(st.sampled_from(self.calls_in(CallState.CONNECTED, CallState.EXTERNAL)))
        ]
        before = self.snapshot()
        try:
            self.apply(self.core.requeue(call.call_id, queue, self.now))
        except TransferError:
            assert self.snapshot() == before, "a refused transfer changed something"
            return
        assert call.queue == queue and call.state in (CallState.WAITING, CallState.OFFERED)
        # The transferring agent is freed only after the call was routed (so it does not get
        # the caller straight back): a fairness check against it would be wrong here.
        self.offers = []

    @precondition(lambda self: self.connected_without_consult())
    @rule(data=st.data(), how=st.sampled_from(["blind", "consult", "consult"]), anyone=st.booleans())
    def transfer_to_an_agent(self, data: st.DataObject, how: str, anyone: bool) -> None:
        call = self.core.calls[data.draw(st.sampled_from(self.connected_without_consult()))]
        free = self.agents_in(AgentState.READY, AgentState.NOT_READY)
        agent_id = data.draw(st.sampled_from(AGENTS if anyone or not free else free))
        before = self.snapshot()
        try:
            if how == "blind":
                self.apply(self.core.transfer_to_agent(call.call_id, agent_id, self.now))
            else:
                self.core.consult(call.call_id, agent_id, self.now)
        except TransferError:
            assert self.snapshot() == before, "a refused transfer changed something"
            return
        assert self.core.agents[agent_id].state is AgentState.RESERVED
        self.offers = []

    @precondition(lambda self: self.consulting())
    @rule(data=st.data(), step=st.sampled_from(["answer", "no_answer", "end", "complete"]))
    def consultation_goes_on(self, data: st.DataObject, step: str) -> None:
        call = self.core.calls[data.draw(st.sampled_from(self.consulting()))]
        assert call.consult is not None
        talking = call.consult.talking
        self.offers = []
        if step == "answer" and not talking:
            self.core.consult_answered(call.call_id, self.now)
        elif step == "no_answer" and not talking:
            self.apply(self.core.consult_ended(call.call_id, self.now, "no_answer"))
        elif step == "complete" and talking:
            taker = call.consult.agent_id
            self.apply(self.core.complete_transfer(call.call_id, self.now))
            assert call.agent_id == taker and call.consult is None
        elif step == "end":
            self.apply(self.core.consult_ended(call.call_id, self.now))

    @precondition(lambda self: self.connected_without_consult())
    @rule(data=st.data())
    def agent_hands_the_caller_to_a_number(self, data: st.DataObject) -> None:
        call_id = data.draw(st.sampled_from(self.connected_without_consult()))
        self.apply(self.core.release_agent(call_id, self.now))
        assert self.core.calls[call_id].state is CallState.EXTERNAL

    @precondition(lambda self: self.agents_in(AgentState.WRAP_UP))
    @rule(data=st.data(), seconds=st.sampled_from([5, 60, 900]))
    def agent_needs_more_wrap_up(self, data: st.DataObject, seconds: int) -> None:
        agent = self.core.agents[data.draw(st.sampled_from(self.agents_in(AgentState.WRAP_UP)))]
        self.apply(self.core.extend_wrap_up(agent.agent_id, seconds, self.now))
        assert agent.wrap_up_until is not None and self.now < agent.wrap_up_until <= self.now + 600

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
            self.core.set_not_ready(agent_id, self.now, "break")
            assert self.core.agents[agent_id].reason == "break"
        elif self.core.agents[agent_id].state is AgentState.WRAP_UP:
            self.apply(self.core.end_wrap_up(agent_id, self.now))

    # -- invariants ---------------------------------------------------------------------
    @invariant()
    def an_agent_never_holds_two_calls(self) -> None:
        holders = Counter(c.agent_id for c in self.core.calls.values() if c.agent_id is not None)
        holders.update(c.consult.agent_id for c in self.core.calls.values() if c.consult is not None)
        assert all(count == 1 for count in holders.values())
        for agent in self.core.agents.values():
            busy = agent.state in (AgentState.RESERVED, AgentState.ON_CALL)
            assert (agent.call_id is not None) == busy
            if busy:
                call = self.core.calls[str(agent.call_id)]
                consulted = call.consult is not None and call.consult.agent_id == agent.agent_id
                assert call.agent_id == agent.agent_id or consulted
                if call.offer == "queue" and not consulted:
                    assert covers(agent, call)
            if agent.state is AgentState.WRAP_UP:
                assert agent.wrap_up_until is not None
            assert (agent.reason is not None) <= (agent.state is AgentState.NOT_READY)

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
            if call.offer != "queue":
                continue  # a transfer to this agent by name
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
            in_queue = [c for c in self.core.calls.values() if c.queue == name and c.queued]
            assert queue.waiting == len(in_queue)
            assert queue.answered == self.answered[name]
            assert queue.abandoned == self.abandoned[name]
            assert queue.timed_out == outcomes[(name, "timeout")]
            left = queue.answered + queue.abandoned + queue.timed_out + outcomes[(name, "no_agents")]
            assert queue.entered == queue.waiting + left
            assert queue.answered_within_threshold <= queue.answered

    def queue_of(self, call_id: str) -> str:
        return next(e.queue for e in self.events if isinstance(e, CallFinished) and e.call_id == call_id)


AcdMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_acd_core_state_machine = AcdMachine.TestCase
