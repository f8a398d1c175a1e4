"""`SharedAcd`: the `AgentRouting` port over a center's shared routing state
(`ivr.runtime.acd.shared`), so a call waiting at this instance can be answered by an agent
whose desktop is on another instance (docs/cluster.md).

Place: runtime; it reaches the shared state only through the `SharedRouting` port and the
agents' phones through `AgentConnector`, as `Acd` does. The adapter that keeps the state
(`ivr.adapters.sharedacd.routing`) takes the routing steps and hands every match that
concerns this instance to `offered`: a match for one of this instance's calls wakes that
call's task, which rings the agent's phone (its address is in the shared agent row) and
bridges as the local ACD does; a match for an agent whose desktop is here becomes a
`CallOffered` event on `events`, the screen pop of this instance's CTI server.

What it does not do yet (docs/cluster.md, "Known gaps"): announcements of position,
transfers, consultations, callbacks, wrap-up timers (the agent is ready again as the call
ends) and statistics; those stay with the in-process `Acd`, the default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

import trio

from ivr.runtime.acd.config import AcdSettings, Position, QueueConfig
from ivr.runtime.acd.events import AgentState, AgentStateChanged, CallOffered, EventHub
from ivr.runtime.acd.hold import HoldSchedule, hold
from ivr.runtime.acd.service import Acd
from ivr.runtime.acd.shared import Match, SharedAgent, SharedCall, SharedRouting, Step
from ivr.runtime.ports import AgentConnector, AgentEndpoint, CallLeg, QueueOutcome, QueueRequest


@dataclass(eq=False)
class _Waiting:
    """One call of this instance waiting for its match."""

    match: Match | None = None
    scope: trio.CancelScope | None = None  # the caller's hold, ended by a match
    seen: set[int] = field(default_factory=set)  # the routing steps already delivered

    def deliver(self, match: Match) -> None:
        if match.seq not in self.seen:
            self.seen.add(match.seq)
            self.match = match
            if self.scope is not None:
                self.scope.cancel()

    def take(self) -> Match | None:
        match, self.match = self.match, None
        return match


class SharedAcd:
    """The ACD of one instance in a center whose queues and agents are shared."""

    def __init__(
        self,
        state: SharedRouting,
        connector: AgentConnector,
        settings: AcdSettings,
        instance: str,
        events: EventHub | None = None,
    ) -> None:
        self.state = state
        self.instance = instance
        self.events = events or EventHub()
        self._connector = connector
        self._settings = settings
        self._waiting: dict[str, _Waiting] = {}
        self._popped: dict[int, None] = {}  # the offers shown to this instance's desktops (recent)

    # -- what the adapter hands over ------------------------------------------------------
    def offered(self, match: Match) -> None:
        """A routing step (on any instance) matched a call or an agent of this instance;
        the same match may come twice (notification and poll): the second is ignored."""
        if match.call_instance == self.instance and match.call_id in self._waiting:
            self._waiting[match.call_id].deliver(match)
        if match.agent_instance == self.instance and match.seq not in self._popped:
            self._popped[match.seq] = None
            if len(self._popped) > 4096:
                del self._popped[next(iter(self._popped))]
            self.events.publish(
                CallOffered(trio.current_time(), match.call_id, match.agent_id, match.queue, match.screen)
            )

    # -- AgentRouting ---------------------------------------------------------------------
    async def enqueue(self, leg: CallLeg, request: QueueRequest) -> QueueOutcome:
        config = self._settings.queue(request.queue)
        skills = frozenset(request.skills) | frozenset(config.skills)
        call = SharedCall(
            leg.call_id,
            request.queue,
            request.priority,
            skills,
            self.instance,
            vip=request.priority >= config.vip_priority,
            screen=_screen(leg, request),
        )
        waiting = self._waiting[leg.call_id] = _Waiting()
        done = False
        try:
            if not (await self.state.add_call(call)).applied:
                done = True  # not ours to abandon: another entry with this id is in the center
                raise ValueError(f"call {call.call_id!r} is already queued in the center")
            if not await self.state.agents_with(skills) and await self._withdraw(call.call_id):
                done = True
                return "no_agents"
            outcome = await self._serve(leg, request, config, waiting)
            done = True
            return outcome
        finally:
            del self._waiting[leg.call_id]
            if not done:
                with trio.CancelScope(shield=True):
                    await self.state.abandon(leg.call_id)

    async def _withdraw(self, call_id: str) -> bool:
        return (await self.state.withdraw_call(call_id)).applied

    async def _serve(
        self, leg: CallLeg, request: QueueRequest, config: QueueConfig, waiting: _Waiting
    ) -> QueueOutcome:
        entered = trio.current_time()
        limit = request.max_wait if request.max_wait is not None else config.max_wait
        deadline = math.inf if limit is None else entered + float(limit)
        schedule = HoldSchedule(entered)
        while True:
            match = await self._wait_for_match(leg, config, waiting, schedule, deadline)
            if match is None:
                return "timeout"
            agent = AgentEndpoint(match.agent_id, match.address)
            ring_timeout = Decimal(str(config.ring_timeout))
            answer = await self._connector.ring(leg, agent, ring_timeout=ring_timeout, screen=match.screen)
            if answer != "answered":
                await self.state.not_answered(match.call_id)
                continue
            await self.state.answered(match.call_id)
            try:
                await self._connector.bridge(leg, agent, flows=request.flows)
            finally:
                with trio.CancelScope(shield=True):
                    await self.state.finished(match.call_id, wrap_up=False)
            return "completed"

    async def _wait_for_match(
        self, leg: CallLeg, config: QueueConfig, waiting: _Waiting, schedule: HoldSchedule, deadline: float
    ) -> Match | None:
        """Hold until a match arrives; at the deadline leave the queue, unless a routing
        step offered the call first (then the offer stands and is taken)."""
        music_only = replace(config, announce_every=None)  # positions are not shared yet
        while waiting.match is None:
            with trio.move_on_at(deadline), trio.CancelScope() as scope:
                waiting.scope = scope
                await hold(leg, music_only, schedule, _no_position)
            waiting.scope = None
            if waiting.match is None and trio.current_time() >= deadline:
                if (await self.state.withdraw_call(leg.call_id)).applied:
                    return None
                for match in await self.state.offers_for(self.instance):  # the step that won
                    if match.call_id == leg.call_id:
                        waiting.deliver(match)
                deadline = math.inf
        return waiting.take()

    # -- the agent API of this instance's desktops ----------------------------------------
    async def login(
        self, agent_id: str, address: str, skills: Mapping[str, int], *, ready: bool = False
    ) -> Step:
        agent = SharedAgent(agent_id, address, dict(skills), self.instance)
        return await self.state.login(agent, ready=ready)

    async def logout(self, agent_id: str) -> Step:
        return await self.state.logout(agent_id)

    async def set_ready(self, agent_id: str) -> Step:
        return await self.state.set_ready(agent_id)

    async def set_not_ready(self, agent_id: str) -> Step:
        return await self.state.set_not_ready(agent_id)


async def mirror_agents(
    acd: Acd, shared: SharedAcd, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Keep this instance's agents in the shared state as the local `Acd` (the one its
    desktops drive: log-in, ready, not ready, log-out) has them. Started once subscribed;
    a subscription dropped for being slow is taken again and every agent re-read."""
    started = False
    while True:
        events = acd.subscribe()
        for agent_id, agent in acd.statistics().agents.items():
            await _mirror(acd, shared, agent_id, AgentState.LOGGED_OUT, agent.state)
        if not started:
            task_status.started()
            started = True
        async with events:
            async for event in events:
                if isinstance(event, AgentStateChanged):
                    await _mirror(acd, shared, event.agent_id, event.previous, event.state)


async def _mirror(
    acd: Acd, shared: SharedAcd, agent_id: str, previous: AgentState, state: AgentState
) -> None:
    if state is AgentState.LOGGED_OUT:
        await shared.logout(agent_id)
        return
    if previous is AgentState.LOGGED_OUT:
        agent = acd.statistics().agents.get(agent_id)
        if agent is None:
            return  # gone again before the mirror got here: its log-out follows
        await shared.login(agent_id, agent.address, agent.skills, ready=state is AgentState.READY)
    if state is AgentState.READY:
        await shared.set_ready(agent_id)
    elif state is AgentState.NOT_READY:
        await shared.set_not_ready(agent_id)


def _no_position() -> Position:
    raise AssertionError("no announcements in a shared queue")


def _screen(leg: CallLeg, request: QueueRequest) -> dict[str, object]:
    """The screen pop, as the local ACD builds it."""
    screen: dict[str, object] = {"queue": request.queue, "caller": leg.caller, "dialed": leg.dialed}
    if request.language:
        screen["language"] = request.language
    if request.path:
        screen["ivr_path"] = list(request.path)
    screen.update(request.data)
    screen.setdefault("channel", request.channel)
    return screen
