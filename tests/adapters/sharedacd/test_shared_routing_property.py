"""The shared routing state under concurrent routers, against a real PostgreSQL.

Hypothesis draws agents (skills with levels) and a run of changes: calls arriving (some
VIP), agents becoming ready, not ready, logging out and in, offers answered, finished, not
answered, callers abandoning or leaving the queue, an instance starting again (clearing
what its previous life held). Two actor threads apply the changes and
two router threads take routing steps meanwhile, each on its own connection. Every change
and every routing step carries its number in the center's order (`Step.seq`,
`Match.seq`); replayed in that order through a plain model, each step must have applied
exactly when the model says it could, and each routing step must have chosen the pair
`expected_match` chooses: so no call was offered twice, no agent held two offers, VIP
calls went before normal ones and the longest-idle (for VIP, most skilled) agent took
them, across the whole center. At the end the database holds exactly the model's calls:
none lost.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.adapters.sharedacd.state import RoutingState, connect
from ivr.runtime.acd.shared import (
    Match,
    ReadyAgent,
    SharedAgent,
    SharedCall,
    Step,
    WaitingCall,
    expected_match,
)

SKILLS = ("stocks", "funds")
VIP = 10
INSTANCES = ("A", "B")

skill_sets = st.frozensets(st.sampled_from(SKILLS))
agent_skills = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), min_size=1)
agent_index = st.integers(0, 3)
changes = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.sampled_from([0, 0, 1, VIP, VIP + 1]), skill_sets),
        st.tuples(st.just("ready"), agent_index),
        st.tuples(st.just("not_ready"), agent_index),
        st.tuples(st.just("logout"), agent_index),
        st.tuples(st.just("login"), agent_index, st.booleans()),
        st.tuples(st.just("answer"), st.booleans()),
        st.tuples(st.just("no_answer")),
        st.tuples(st.just("abandon"), st.integers(0, 30)),
        st.tuples(st.just("withdraw"), st.integers(0, 30)),
        st.tuples(st.just("restart"), st.sampled_from(INSTANCES)),
    ),
    min_size=5,
    max_size=40,
)


@dataclass
class Recorded:
    """What happened, from every thread: (seq, kind, arguments, applied)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    steps: list[tuple[int, str, tuple[object, ...], bool]] = field(default_factory=list)

    def add(self, step: Step, kind: str, *args: object) -> Step:
        with self.lock:
            self.steps.append((step.seq, kind, args, step.applied))
        return step

    def match(self, match: Match) -> None:
        with self.lock:
            self.steps.append((match.seq, "match", (match.call_id, match.agent_id), True))


@dataclass
class ModelCall:
    priority: int
    skills: frozenset[str]
    seq: int
    state: str = "waiting"
    agent: str | None = None


@dataclass
class ModelAgent:
    skills: dict[str, int]
    login_seq: int
    ready_seq: int | None
    state: str


@dataclass
class Model:
    """The center as the routing rule sees it, replayed step by step in `seq` order."""

    skills: dict[str, dict[str, int]]
    calls: dict[str, ModelCall] = field(default_factory=dict)
    agents: dict[str, ModelAgent] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)

    def apply(self, seq: int, kind: str, args: tuple[object, ...]) -> bool:
        """Carry out one step; whether it could apply in this state."""
        step: Callable[..., bool] = getattr(self, f"_{kind}")
        return step(seq, *args)

    def _call(self, seq: int, call_id: str, priority: int, skills: frozenset[str]) -> bool:
        self.calls[call_id] = ModelCall(priority, skills, seq)
        return True

    def _withdraw(self, seq: int, call_id: str) -> bool:
        return self._drop_call(call_id, {"waiting"}) is not None

    def _abandon(self, seq: int, call_id: str) -> bool:
        call = self._drop_call(call_id, {"waiting", "offered"})
        if call is not None and call.agent is not None:
            self.agents[call.agent].state = "ready"  # keeps its ready_seq: its place among idle agents
        return call is not None

    def _login(self, seq: int, agent_id: str, ready: bool) -> bool:
        if agent_id in self.agents:
            return False
        state = "ready" if ready else "not_ready"
        self.agents[agent_id] = ModelAgent(self.skills[agent_id], seq, seq if ready else None, state)
        return True

    def _logout(self, seq: int, agent_id: str) -> bool:
        if self._agent_state(agent_id) not in {"ready", "not_ready", "wrap_up"}:
            return False
        del self.agents[agent_id]
        return True

    def _ready(self, seq: int, agent_id: str) -> bool:
        if self._agent_state(agent_id) not in {"not_ready", "wrap_up"}:
            return False
        self.agents[agent_id].state, self.agents[agent_id].ready_seq = "ready", seq
        return True

    def _not_ready(self, seq: int, agent_id: str) -> bool:
        if self._agent_state(agent_id) not in {"ready", "not_ready", "wrap_up"}:
            return False
        self.agents[agent_id].state, self.agents[agent_id].ready_seq = "not_ready", None
        return True

    def _answered(self, seq: int, call_id: str) -> bool:
        call = self.calls.get(call_id)
        if call is None or call.state != "offered" or call.agent is None:
            return False
        call.state = "connected"
        self.agents[call.agent].state = "on_call"
        return True

    def _not_answered(self, seq: int, call_id: str) -> bool:
        call = self.calls.get(call_id)
        if call is None or call.state != "offered" or call.agent is None:
            return False
        self.agents[call.agent].state, self.agents[call.agent].ready_seq = "not_ready", None
        call.state, call.agent = "waiting", None
        return True

    def _finished(self, seq: int, call_id: str, wrap_up: bool) -> bool:
        call = self._drop_call(call_id, {"connected"})
        if call is None or call.agent is None:
            return False
        agent = self.agents.get(call.agent)  # gone if its desktop's instance restarted meanwhile
        if agent is not None:
            agent.state, agent.ready_seq = ("wrap_up", None) if wrap_up else ("ready", seq)
        return True

    def _restart(self, seq: int, instance: str) -> bool:
        """The instance died and started again: its calls leave (their agents are ready,
        in their old place if only rung), its agents leave (a call one was ringing waits)."""
        for call_id, call in list(self.calls.items()):
            if _owner(call_id) == instance:
                agent = self.agents.get(call.agent) if call.agent is not None else None
                if agent is not None:
                    agent.ready_seq = agent.ready_seq if agent.state == "reserved" else seq
                    agent.state = "ready"
                self._drop_call(call_id, {call.state})
        for agent_id in [agent_id for agent_id in self.agents if _host(agent_id) == instance]:
            for call in self.calls.values():
                if call.agent == agent_id and call.state == "offered":
                    call.state, call.agent = "waiting", None
            del self.agents[agent_id]
        return True

    def _match(self, seq: int, call_id: str, agent_id: str) -> bool:
        call, agent = self.calls.get(call_id), self.agents.get(agent_id)
        assert call is not None and call.state == "waiting", f"step {seq}: {call_id} offered twice"
        assert agent is not None and agent.state == "ready", f"step {seq}: {agent_id} given a second call"
        best = self.best()
        assert best == (call_id, agent_id), f"step {seq}: {call_id} to {agent_id}; the rule says {best}"
        call.state, call.agent = "offered", agent_id
        agent.state = "reserved"
        return True

    def best(self) -> tuple[str, str] | None:
        waiting = [
            WaitingCall(call_id, call.priority, call.priority >= VIP, call.skills, call.seq)
            for call_id, call in self.calls.items()
            if call.state == "waiting"
        ]
        ready = [
            ReadyAgent(agent_id, agent.skills, agent.ready_seq or 0, agent.login_seq)
            for agent_id, agent in self.agents.items()
            if agent.state == "ready"
        ]
        return expected_match(waiting, ready)

    def _agent_state(self, agent_id: str) -> str | None:
        agent = self.agents.get(agent_id)
        return None if agent is None else agent.state

    def _drop_call(self, call_id: str, states: set[str]) -> ModelCall | None:
        call = self.calls.get(call_id)
        if call is None or call.state not in states:
            return None
        del self.calls[call_id]
        self.ended.add(call_id)
        return call


def _owner(call_id: str) -> str:
    """The instance a call arrived at: c0 at A, c1 at B, ..."""
    return INSTANCES[int(call_id[1:]) % 2]


def _host(agent_id: str) -> str:
    """The instance hosting an agent's desktop: a0 at A, a1 at B, ..."""
    return INSTANCES[int(agent_id[1:]) % 2]


def _actor(
    url: str,
    center: str,
    work: list[tuple[object, ...]],
    record: Recorded,
    call_ids: list[str],
    skills: dict[str, dict[str, int]],
) -> Callable[[], None]:
    def run() -> None:
        with connect(url) as conn:
            state = RoutingState(conn, center)
            for change in work:
                _apply(state, change, record, call_ids, skills)

    return run


def _apply(
    state: RoutingState,
    change: tuple[object, ...],
    record: Recorded,
    call_ids: list[str],
    skills: dict[str, dict[str, int]],
) -> None:
    kind, *args = change
    if kind == "call":
        priority, needs = int(args[0]), frozenset(args[1])  # type: ignore[call-overload]
        call_id = str(args[2])
        shared = SharedCall(call_id, "q", priority, needs, _owner(call_id), vip=priority >= VIP)
        record.add(state.add_call(shared), "call", call_id, priority, needs)
    elif kind in ("ready", "not_ready", "logout"):
        agent_id = f"a{args[0]}"
        method = {"ready": state.set_ready, "not_ready": state.set_not_ready, "logout": state.logout}[kind]
        record.add(method(agent_id), kind, agent_id)
    elif kind == "login":
        agent_id = f"a{args[0]}"
        agent = SharedAgent(agent_id, f"sip:{agent_id}@127.0.0.1", skills[agent_id], _host(agent_id))
        record.add(state.login(agent, ready=bool(args[1])), "login", agent_id, bool(args[1]))
    elif kind in ("abandon", "withdraw") and call_ids:
        call_id = call_ids[int(args[0]) % len(call_ids)]  # type: ignore[call-overload]
        left = state.abandon(call_id) if kind == "abandon" else state.withdraw_call(call_id)
        record.add(left, kind, call_id)
    elif kind == "restart":
        record.add(state.restart(str(args[0])), "restart", str(args[0]))
    elif kind in ("answer", "no_answer"):
        offers = state.offers_for("A") + state.offers_for("B")
        if offers:
            call_id = offers[0].call_id
            if kind == "no_answer":
                record.add(state.not_answered(call_id), "not_answered", call_id)
            else:
                record.add(state.answered(call_id), "answered", call_id)
                record.add(state.finished(call_id, wrap_up=bool(args[0])), "finished", call_id, bool(args[0]))


def _router(url: str, center: str, record: Recorded, done: threading.Event) -> Callable[[], None]:
    def run() -> None:
        with connect(url) as conn:
            state = RoutingState(conn, center)
            while True:
                finishing = done.is_set()
                match = state.route_once()
                if match is not None:
                    record.match(match)
                elif finishing:
                    return

    return run


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(agents=st.lists(agent_skills, min_size=1, max_size=4), run=changes)
def test_concurrent_routers_keep_the_order_and_lose_no_call(
    postgres_url: str, agents: list[dict[str, int]], run: list[tuple[object, ...]]
) -> None:
    center = f"prop-{uuid.uuid4().hex[:12]}"
    skills = {f"a{i}": levels for i, levels in enumerate(agents)}
    skills.update({f"a{i}": {"stocks": 1} for i in range(len(agents), 4)})  # indexes past the list
    record, counter = Recorded(), itertools.count()
    with connect(postgres_url) as conn:
        setup = RoutingState(conn, center)
        setup.prepare()
        for agent_id, levels in list(skills.items())[: len(agents)]:
            agent = SharedAgent(agent_id, f"sip:{agent_id}@127.0.0.1", levels, _host(agent_id))
            record.add(setup.login(agent, ready=True), "login", agent_id, True)
        named = [(*change, f"c{next(counter)}") if change[0] == "call" else change for change in run]
        call_ids = [str(change[3]) for change in named if change[0] == "call"]
        done = threading.Event()
        actors = [
            threading.Thread(target=_actor(postgres_url, center, named[i::2], record, call_ids, skills))
            for i in range(2)
        ]
        routers = [threading.Thread(target=_router(postgres_url, center, record, done)) for _ in range(2)]
        for thread in actors + routers:
            thread.start()
        for thread in actors:
            thread.join()
        done.set()
        for thread in routers:
            thread.join()

        model = Model(skills)
        for seq, kind, args, applied in sorted(record.steps, key=lambda step: step[0]):
            could = model.apply(seq, kind, args)
            assert applied == could, f"step {seq} {kind}{args}: applied={applied}, the model says {could}"
        assert model.best() is None, "a ready agent could still serve a waiting call"
        calls, agents_now = setup.snapshot()
        assert {(call_id, call.state, call.agent) for call_id, call in model.calls.items()} == set(calls)
        now = {(agent_id, state) for agent_id, state, _ in agents_now}
        assert {(agent_id, agent.state) for agent_id, agent in model.agents.items()} == now
        added = {str(change[3]) for change in named if change[0] == "call"}
        assert added == set(model.calls) | model.ended, "a call was lost"
