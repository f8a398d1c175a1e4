"""Two instances of one center on one PostgreSQL (`open_shared_acd`, the `AgentRouting`
port): a call waiting at instance A is rung through to an agent whose desktop is on
instance B, B's desktop gets the offer through the database's notifications, and VIP
priority, timeouts and "no agents" hold across the instances. The instances are two
`SharedAcd`s in one trio run, each with its own connections, listener and router; the
phones are `MemoryAgentConnector`s (the SIP path is the local ACD's, docs/cluster.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import trio

from ivr.adapters.sharedacd.routing import PostgresSharedRouting, open_shared_acd
from ivr.adapters.sharedacd.state import RoutingState, connect
from ivr.runtime.acd import (
    Acd,
    AcdSettings,
    AgentState,
    AgentStateChanged,
    CallConnected,
    CallFinished,
    CallOffered,
    QueueConfig,
    open_acd,
)
from ivr.runtime.acd.shared import SharedAgent, SharedCall
from ivr.runtime.acd.shared_acd import SharedAcd, mirror_agents
from ivr.runtime.ports import CallEnded, QueueOutcome, QueueRequest
from ivr.runtime.testing import MemoryCallLeg
from ivr.runtime.testing.acd import AgentAnswer, MemoryAgentConnector

SETTINGS = AcdSettings({"stocks": QueueConfig("stocks", skills=("stocks",), ring_timeout=5)})
PHONE = "sip:8001@127.0.0.1:5071"
POLL = 60.0  # the safety net's period: longer than any test, so only notifications wake the routers


def _request(priority: int = 0, max_wait: float | None = None) -> QueueRequest:
    wait = None if max_wait is None else Decimal(str(max_wait))
    return QueueRequest("stocks", (), priority, {"account": "A-1"}, wait)


@dataclass
class Instance:
    acd: SharedAcd
    phones: MemoryAgentConnector  # the agents' phones as this instance rings them

    def rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The center's calls and agents, read straight from the database."""
        return cast(PostgresSharedRouting, self.acd.state).sync.snapshot()


@asynccontextmanager
async def _center(url: str, settings: AcdSettings = SETTINGS) -> AsyncIterator[tuple[Instance, Instance]]:
    """Instances A and B; phones answer at once and talk briefly."""
    async with AsyncExitStack() as stack:
        instances = []
        for name in ("A", "B"):
            phones = MemoryAgentConnector(default=AgentAnswer(ring=0.01, talk=0.05))
            acd = await stack.enter_async_context(
                open_shared_acd(url, instance=name, connector=phones, settings=settings, poll=POLL)
            )
            instances.append(Instance(acd, phones))
        yield instances[0], instances[1]


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for what the database shows (the test's only view of another instance's call)."""
    while True:
        if condition():
            return
        await trio.sleep(0.01)


async def test_callers_waiting_at_two_instances_hear_their_place_in_the_whole_center(
    postgres_url: str,
) -> None:
    """The position comes from the shared queue: B's caller, behind A's, is told number 2,
    and a VIP arriving later at A is told number 1 (and A's first caller then number 2)."""
    announcing = AcdSettings({"stocks": QueueConfig("stocks", skills=("stocks",), announce_every=0.3)})
    async with _center(postgres_url, announcing) as (a, b):
        await b.acd.login("8001", PHONE, {"stocks": 3})  # logged in, not ready: callers wait
        legs = {name: MemoryCallLeg(call_id=name, seconds_per_char=0) for name in ("FIRST", "SECOND", "VIP")}

        def heard(name: str) -> list[str]:
            return [p.text for p in legs[name].prompts if p.text.startswith("You are number")]

        def told(name: str, position: int) -> bool:
            return heard(name)[-1].startswith(f"You are number {position} ")

        async with trio.open_nursery() as nursery:
            with trio.fail_after(20):
                nursery.start_soon(a.acd.enqueue, legs["FIRST"], _request(max_wait=30))
                await _until(lambda: len(heard("FIRST")) >= 1)
                nursery.start_soon(b.acd.enqueue, legs["SECOND"], _request(max_wait=30))
                await _until(lambda: len(heard("SECOND")) >= 1)
                nursery.start_soon(a.acd.enqueue, legs["VIP"], _request(priority=10, max_wait=30))
                await _until(lambda: len(heard("VIP")) >= 1 and told("FIRST", 2) and told("SECOND", 3))
            nursery.cancel_scope.cancel()
    expected = "Your expected wait is about {} minutes."  # the place x 120 s, one agent covering
    assert heard("FIRST")[0] == "You are number 1 in the queue. " + expected.format(2)
    assert heard("SECOND")[0] == "You are number 2 in the queue. " + expected.format(4)
    assert heard("VIP")[0] == "You are number 1 in the queue. " + expected.format(2)
    assert heard("FIRST")[-1].startswith("You are number 2 in the queue.")  # the VIP went ahead
    assert heard("SECOND")[-1] == "You are number 3 in the queue. " + expected.format(6)


async def test_every_instance_reads_the_same_center_wide_queue_figures(postgres_url: str) -> None:
    async with _center(postgres_url) as (a, b):
        await b.acd.login("8001", PHONE, {"stocks": 3})
        await a.acd.login("8002", "sip:8002@127.0.0.1:5072", {"stocks": 1}, ready=False)
        async with trio.open_nursery() as nursery:
            with trio.fail_after(20):
                nursery.start_soon(a.acd.enqueue, MemoryCallLeg(call_id="AT-A"), _request(max_wait=30))
                await _until(lambda: len(a.rows()[0]) == 1)
                await trio.sleep(0.5)
                nursery.start_soon(b.acd.enqueue, MemoryCallLeg(call_id="AT-B"), _request(max_wait=30))
                await _until(lambda: len(a.rows()[0]) == 2)
                seen = [await a.acd.figures(max_age=0), await b.acd.figures(max_age=0)]
            nursery.cancel_scope.cancel()
    for figures in seen:
        assert figures is not None and set(figures.queues) == {"stocks"}
        stocks = figures.queues["stocks"]
        assert stocks.waiting == 2 and 0.5 <= stocks.longest_wait < 20  # A's call, the older
        assert figures.agents == {"not_ready": 2}


async def test_a_call_at_instance_a_is_answered_by_the_agent_logged_in_at_instance_b(
    postgres_url: str,
) -> None:
    async with _center(postgres_url) as (a, b):
        desktop = b.acd.events.subscribe()
        await b.acd.login("8001", PHONE, {"stocks": 3}, ready=True)
        with trio.fail_after(20):
            leg = MemoryCallLeg(call_id="CALL-1", caller="13900000001")
            outcome = await a.acd.enqueue(leg, _request())
            offer = await desktop.receive()
        assert outcome == "completed"
        rung = [(ring.call_id, ring.agent_id, ring.answer) for ring in a.phones.rings]
        assert rung == [("CALL-1", "8001", "answered")] and b.phones.rings == []
        assert isinstance(offer, CallOffered)
        assert (offer.call_id, offer.agent_id, offer.queue) == ("CALL-1", "8001", "stocks")
        assert offer.screen["caller"] == "13900000001" and offer.screen["account"] == "A-1"
        with trio.fail_after(20):  # ready again once B hears the call ended (from wrap-up)
            await _until(lambda: b.rows() == ([], [("8001", "ready", None)]))


async def test_a_vip_call_at_one_instance_goes_before_an_earlier_call_at_the_other(postgres_url: str) -> None:
    async with _center(postgres_url) as (a, b):
        await b.acd.login("8001", PHONE, {"stocks": 3})  # not ready yet
        outcomes: dict[str, QueueOutcome] = {}

        async def caller(instance: Instance, call_id: str, priority: int) -> None:
            leg = MemoryCallLeg(call_id=call_id)
            outcomes[call_id] = await instance.acd.enqueue(leg, _request(priority))

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(caller, a, "NORMAL", 0)
                await _until(lambda: len(a.rows()[0]) == 1)
                nursery.start_soon(caller, b, "VIP", 10)
                await _until(lambda: len(a.rows()[0]) == 2)
                await b.acd.set_ready("8001")
        assert outcomes == {"NORMAL": "completed", "VIP": "completed"}
        assert [ring.call_id for ring in b.phones.rings] == ["VIP"]
        assert [ring.call_id for ring in a.phones.rings] == ["NORMAL"]
        assert b.phones.rings[0].at < a.phones.rings[0].at


async def test_a_call_nobody_is_ready_for_times_out_and_leaves_the_shared_queue(postgres_url: str) -> None:
    async with _center(postgres_url) as (a, b):
        await b.acd.login("8001", PHONE, {"stocks": 3})
        with trio.fail_after(20):
            outcome = await a.acd.enqueue(MemoryCallLeg(call_id="CALL-2"), _request(max_wait=0.3))
        assert outcome == "timeout" and a.phones.rings == []
        assert a.rows() == ([], [("8001", "not_ready", None)])


async def test_a_call_whose_skills_no_agent_anywhere_has_gets_no_agents(postgres_url: str) -> None:
    async with _center(postgres_url) as (a, b):
        await b.acd.login("8001", PHONE, {"funds": 3}, ready=True)
        with trio.fail_after(20):
            outcome = await a.acd.enqueue(MemoryCallLeg(call_id="CALL-3"), _request())
        assert outcome == "no_agents" and a.phones.rings == []


async def test_an_agent_who_does_not_answer_goes_not_ready_and_the_call_goes_to_the_next(
    postgres_url: str,
) -> None:
    async with _center(postgres_url) as (a, b):
        a.phones.script("8001", AgentAnswer("no_answer"))
        await b.acd.login("8001", PHONE, {"stocks": 3}, ready=True)
        await b.acd.login("8002", "sip:8002@127.0.0.1:5072", {"stocks": 1}, ready=True)
        with trio.fail_after(20):
            outcome = await a.acd.enqueue(MemoryCallLeg(call_id="CALL-4"), _request())
        assert outcome == "completed"
        assert [(ring.agent_id, ring.answer) for ring in a.phones.rings] == [
            ("8001", "no_answer"),
            ("8002", "answered"),
        ]
        # the call's end leaves 8002 in wrap-up; its own instance (B) makes it ready
        with trio.fail_after(20):
            await _until(lambda: a.rows()[1] == [("8001", "not_ready", None), ("8002", "ready", None)])


async def test_a_caller_who_hangs_up_while_waiting_leaves_the_shared_queue(postgres_url: str) -> None:
    async with _center(postgres_url) as (a, b):
        await b.acd.login("8001", PHONE, {"stocks": 3})
        leg = MemoryCallLeg(call_id="CALL-5")
        ended: list[str] = []

        async def caller() -> None:
            try:
                await a.acd.enqueue(leg, _request())
            except CallEnded:
                ended.append(leg.call_id)

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(caller)
                await _until(lambda: len(a.rows()[0]) == 1)
                leg.hang_up()
        assert ended == ["CALL-5"] and a.rows()[0] == []


def test_what_a_dead_instance_held_is_cleared_by_a_live_one(postgres_url: str) -> None:
    with connect(postgres_url) as conn:
        state = RoutingState(conn, "sweep")
        state.prepare()
        for instance in ("A", "B", "DEAD"):
            state.heartbeat(instance)
        state.login(SharedAgent("8001", PHONE, {"stocks": 3}, "B"), ready=True)
        state.login(SharedAgent("8002", "sip:8002@127.0.0.1:5072", {"stocks": 3}, "DEAD"))
        state.add_call(SharedCall("AT-DEAD", "stocks", 0, frozenset({"stocks"}), "DEAD"))
        assert state.route_once() is not None  # 8001 (on B) rings for a caller on DEAD
        state.set_ready("8002")
        state.add_call(SharedCall("AT-A", "stocks", 0, frozenset({"stocks"}), "A"))
        assert state.route_once() is not None  # 8002 (desktop on DEAD) rings for a caller on A
        assert state.sweep(stale_after=60) == []  # everyone was seen just now
        conn.execute("UPDATE acd_instances SET seen_at = seen_at - interval '1 hour' WHERE instance = 'DEAD'")

        assert state.sweep(stale_after=60) == ["DEAD"]

        assert state.snapshot() == ([("AT-A", "waiting", None)], [("8001", "ready", None)])
        match = state.route_once()
        assert match is not None and (match.call_id, match.agent_id) == ("AT-A", "8001")


def test_an_instance_starting_again_clears_what_its_previous_life_held(postgres_url: str) -> None:
    with connect(postgres_url) as conn:
        state = RoutingState(conn, "restart")
        state.prepare()
        state.restart("B")
        state.login(SharedAgent("8001", PHONE, {"stocks": 3}, "B"), ready=True)
        state.add_call(SharedCall("CALL-1", "stocks", 0, frozenset({"stocks"}), "A"))
        assert state.route_once() is not None

        state.restart("A")  # A died and starts again: its CALL-1 is not the old one

        assert state.snapshot() == ([], [("8001", "ready", None)])
        assert state.add_call(SharedCall("CALL-1", "stocks", 0, frozenset({"stocks"}), "A")).applied


async def test_agents_of_the_local_acd_a_desktop_drives_are_offered_calls_of_the_other_instance(
    postgres_url: str,
) -> None:
    """Instance B's desktops drive its local `Acd` (log-in, ready, not ready); mirrored into
    the shared state, its agent is offered a call of instance A, and the offer reaches B's
    desktop through the local ACD's events."""
    phones = MemoryAgentConnector(default=AgentAnswer(ring=0.01, talk=0.05))
    async with (
        open_acd(MemoryAgentConnector(), SETTINGS) as local_b,
        open_shared_acd(postgres_url, instance="A", connector=phones, settings=SETTINGS, poll=POLL) as a,
        open_shared_acd(
            postgres_url,
            instance="B",
            connector=MemoryAgentConnector(),
            settings=SETTINGS,
            events=local_b.events,
            poll=POLL,
        ) as b,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(mirror_agents, local_b, b)
        desktop = local_b.subscribe()
        local_b.login("8001", PHONE, {"stocks": 3}, ready=True)
        with trio.fail_after(20):
            # the mirror copies the log-in in its own task: before that the center has no agent
            await _until(lambda: Instance(a, phones).rows()[1] == [("8001", "ready", None)])
            outcome = await a.enqueue(MemoryCallLeg(call_id="CALL-6"), _request())
            offer = await desktop.receive()
            while not isinstance(offer, CallOffered):
                offer = await desktop.receive()
        assert outcome == "completed" and [ring.agent_id for ring in phones.rings] == ["8001"]
        assert (offer.call_id, offer.agent_id) == ("CALL-6", "8001")

        with trio.fail_after(20):  # B's local ACD follows the call to its end
            await _until(lambda: local_b.statistics().agents["8001"].state is AgentState.READY)
        local_b.set_not_ready("8001", "break")
        with trio.fail_after(20):
            await _until(lambda: Instance(a, phones).rows()[1] == [("8001", "not_ready", None)])
            outcome = await a.enqueue(MemoryCallLeg(call_id="CALL-7"), _request(max_wait=0.3))
        assert outcome == "timeout" and len(phones.rings) == 1
        nursery.cancel_scope.cancel()


async def test_the_calls_instance_publishes_the_agent_connecting_and_the_call_finishing(
    postgres_url: str,
) -> None:
    """What instance A's call journal writes on the caller's record (`AcdJournal`): the
    agent of instance B connected, then the call finished with that agent."""
    async with _center(postgres_url) as (a, b):
        journal = a.acd.events.subscribe()
        await b.acd.login("8001", PHONE, {"stocks": 3}, ready=True)
        with trio.fail_after(20):
            outcome = await a.acd.enqueue(MemoryCallLeg(call_id="CALL-8"), _request())
        assert outcome == "completed"
        seen = [journal.receive_nowait(), journal.receive_nowait()]
        assert seen == [
            CallConnected(seen[0].at, "CALL-8", "8001", "stocks"),
            CallFinished(seen[1].at, "CALL-8", "stocks", "completed", "8001"),
        ]


async def test_centers_on_one_database_never_share_agents(postgres_url: str) -> None:
    """Each tenant of `ivr serve` is a center of its own: a call of one tenant is never
    offered to another tenant's agent, though both are on the same database."""
    phones = MemoryAgentConnector(default=AgentAnswer(ring=0.01, talk=0.05))
    async with (
        open_shared_acd(postgres_url, instance="A", connector=phones, center="brokerage", poll=POLL) as a,
        open_shared_acd(
            postgres_url, instance="B", connector=MemoryAgentConnector(), center="insurance", poll=POLL
        ) as b,
    ):
        await b.login("8001", PHONE, {"stocks": 3}, ready=True)
        with trio.fail_after(20):
            outcome = await a.enqueue(MemoryCallLeg(call_id="CALL-9"), _request(max_wait=0.3))
        assert outcome == "no_agents" and phones.rings == []


@asynccontextmanager
async def _desk_at_b(
    url: str, local: AcdSettings, phones: MemoryAgentConnector
) -> AsyncIterator[tuple[SharedAcd, Acd, SharedAcd]]:
    """Instance A (its callers, `phones` as it rings them) and instance B's local `Acd`
    (with `local` queue settings), which B's desktop drives and the mirror copies, and B."""
    async with (
        open_acd(MemoryAgentConnector(), local) as desk,
        open_shared_acd(url, instance="A", connector=phones, settings=SETTINGS, poll=POLL) as a,
        open_shared_acd(
            url, instance="B", connector=MemoryAgentConnector(), settings=local, events=desk.events, poll=POLL
        ) as b,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(mirror_agents, desk, b)
        yield a, desk, b
        nursery.cancel_scope.cancel()


def _local_state(desk: Acd) -> AgentState:
    return desk.statistics().agents["8001"].state


async def test_the_agents_own_instance_shows_it_on_a_call_held_at_the_other_until_it_ends(
    postgres_url: str,
) -> None:
    """B's local ACD follows a call held at A: the agent is reserved, then on call (in
    `statistics()`, hence `/health`), a second call is not offered meanwhile, B's desktop
    sees the connection and the end, and the not-ready the agent asked for during the call
    holds afterwards, in B's local ACD and in the shared state."""
    no_wrap_up = AcdSettings({"stocks": QueueConfig("stocks", skills=("stocks",), ring_timeout=5, wrap_up=0)})
    phones = MemoryAgentConnector(default=AgentAnswer(ring=0.01, talk=60))
    async with _desk_at_b(postgres_url, no_wrap_up, phones) as (a, desk, _), trio.open_nursery() as nursery:
        events = desk.subscribe()
        desk.login("8001", PHONE, {"stocks": 3}, ready=True)
        with trio.fail_after(20):
            await _until(lambda: Instance(a, phones).rows()[1] == [("8001", "ready", None)])
        leg = MemoryCallLeg(call_id="CALL-10")
        outcomes: list[QueueOutcome] = []

        async def call(leg: MemoryCallLeg, request: QueueRequest) -> None:
            outcomes.append(await a.enqueue(leg, request))

        nursery.start_soon(call, leg, _request())
        with trio.fail_after(20):
            await _until(lambda: _local_state(desk) is AgentState.ON_CALL)
        assert desk.statistics().agents["8001"].call_id == "CALL-10"
        with trio.fail_after(20):  # a second call waits out its limit: the agent talks
            assert await a.enqueue(MemoryCallLeg(call_id="CALL-11"), _request(max_wait=0.3)) == "timeout"
        assert [ring.call_id for ring in phones.rings] == ["CALL-10"]

        desk.not_ready_after_call("8001", "lunch")  # clicked during the call
        leg.hang_up()
        with trio.fail_after(20):
            await _until(lambda: _local_state(desk) is AgentState.NOT_READY)
            await _until(lambda: Instance(a, phones).rows()[1] == [("8001", "not_ready", None)])
            await _until(lambda: bool(outcomes))  # A's enqueue returns after B has seen the end
        assert outcomes == ["completed"] and desk.statistics().agents["8001"].reason == "lunch"
        seen = []
        while True:
            try:
                seen.append(events.receive_nowait())
            except trio.WouldBlock:
                break
        calls = [type(e).__name__ for e in seen if isinstance(e, (CallOffered, CallConnected, CallFinished))]
        assert calls == ["CallOffered", "CallConnected", "CallFinished"]
        finished = next(e for e in seen if isinstance(e, CallFinished))
        assert (finished.call_id, finished.outcome, finished.agent_id, finished.remote) == (
            "CALL-10",
            "completed",
            "8001",
            True,
        )
        states = [e.state for e in seen if isinstance(e, AgentStateChanged) and e.state != e.previous]
        assert states == [AgentState.READY, AgentState.RESERVED, AgentState.ON_CALL, AgentState.NOT_READY]


async def test_after_a_call_held_at_the_other_instance_the_agent_wraps_up_then_is_ready(
    postgres_url: str,
) -> None:
    """The wrap-up of B's queue settings holds across instances: the shared agent is not
    ready for calls until B's local ACD ends wrap-up, then both have it ready."""
    short = AcdSettings({"stocks": QueueConfig("stocks", skills=("stocks",), ring_timeout=5, wrap_up=1.5)})
    phones = MemoryAgentConnector(default=AgentAnswer(ring=0.01, talk=0.05))
    async with _desk_at_b(postgres_url, short, phones) as (a, desk, _):
        events = desk.subscribe()
        desk.login("8001", PHONE, {"stocks": 3}, ready=True)
        with trio.fail_after(20):
            await _until(lambda: Instance(a, phones).rows()[1] == [("8001", "ready", None)])
            assert await a.enqueue(MemoryCallLeg(call_id="CALL-12"), _request()) == "completed"
            await _until(lambda: _local_state(desk) is AgentState.WRAP_UP)
            assert Instance(a, phones).rows()[1] == [("8001", "wrap_up", None)]
            await _until(lambda: _local_state(desk) is AgentState.READY)
            await _until(lambda: Instance(a, phones).rows()[1] == [("8001", "ready", None)])
        states = []
        while True:
            try:
                event = events.receive_nowait()
            except trio.WouldBlock:
                break
            if isinstance(event, AgentStateChanged) and event.state != event.previous:
                states.append(event.state)
        assert states == [
            AgentState.READY,
            AgentState.RESERVED,
            AgentState.ON_CALL,
            AgentState.WRAP_UP,
            AgentState.READY,
        ]


async def test_the_agents_instance_catches_up_with_a_call_end_it_was_not_told_of(postgres_url: str) -> None:
    """The safety net (run on each router round): the call's instance starts again and
    clears its calls without a word to B; B's local ACD, following the call, finds the
    shared agent free and makes it ready again."""
    no_wrap_up = AcdSettings({"stocks": QueueConfig("stocks", skills=("stocks",), ring_timeout=5, wrap_up=0)})
    phones = MemoryAgentConnector(default=AgentAnswer(ring=0.01, talk=60))
    async with _desk_at_b(postgres_url, no_wrap_up, phones) as (a, desk, b), trio.open_nursery() as nursery:
        desk.login("8001", PHONE, {"stocks": 3}, ready=True)
        with trio.fail_after(20):
            await _until(lambda: Instance(a, phones).rows()[1] == [("8001", "ready", None)])
        leg = MemoryCallLeg(call_id="CALL-13")
        nursery.start_soon(a.enqueue, leg, _request())
        with trio.fail_after(20):
            await _until(lambda: _local_state(desk) is AgentState.ON_CALL)
        state = RoutingState(connect(postgres_url))
        try:
            state.restart("A")  # A's previous life's calls are cleared: the agent is free
        finally:
            state.conn.close()
        await b.catch_up()
        assert _local_state(desk) is AgentState.READY and desk.following("8001") is None
        leg.hang_up()


def test_handle_times_of_every_instance_make_the_expected_wait(postgres_url: str) -> None:
    """A call finished at A and one at B (talks of 60 and 180 s) make the queue's shared
    average 120 s, which the place of a caller waiting at either instance carries; another
    queue's calls do not count, and a queue nobody has handled a call of has none yet."""
    with connect(postgres_url) as conn:
        state = RoutingState(conn, "handle", handle_window=3)
        state.prepare()
        state.login(SharedAgent("8001", PHONE, {"stocks": 3}, "B"), ready=True)

        def talk(call_id: str, instance: str, seconds: int, queue: str = "stocks") -> None:
            state.add_call(SharedCall(call_id, queue, 0, frozenset({"stocks"}), instance))
            match = state.route_once()
            assert match is not None and match.call_id == call_id
            assert state.answered(call_id).applied
            conn.execute(  # as if it had been answered `seconds` ago
                "UPDATE acd_calls SET connected_at = clock_timestamp() - make_interval(secs => %s)"
                " WHERE center = 'handle' AND call_id = %s",
                (seconds, call_id),
            )
            assert state.finished(call_id, wrap_up=False).applied

        state.add_call(SharedCall("WAITING", "stocks", 0, frozenset({"stocks"}), "A"))
        state.set_not_ready("8001")
        place = state.place("WAITING")
        assert place is not None and place.handle_time is None  # none handled yet
        state.withdraw_call("WAITING")
        state.set_ready("8001")
        talk("AT-A", "A", 60)
        talk("AT-B", "B", 180)
        talk("OTHER", "A", 3000, queue="funds")
        state.set_not_ready("8001")
        state.add_call(SharedCall("WAITING-2", "stocks", 0, frozenset({"stocks"}), "B"))
        place = state.place("WAITING-2")
        assert place is not None and place.handle_time is not None
        assert abs(place.handle_time - 120) < 1, place
        state.set_ready("8001")
        state.withdraw_call("WAITING-2")
        for n in range(4):  # past the window, the recent calls weigh 1/3 each
            talk(f"LATER-{n}", "A", 30)
        state.set_not_ready("8001")
        state.add_call(SharedCall("WAITING-3", "stocks", 0, frozenset({"stocks"}), "A"))
        place = state.place("WAITING-3")
        assert place is not None and place.handle_time is not None and 30 < place.handle_time < 60
