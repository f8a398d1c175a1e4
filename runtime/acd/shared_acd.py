"""`SharedAcd`: the `AgentRouting` port over a center's shared routing state
(`ivr.runtime.acd.shared`), so a call waiting at this instance can be answered by an agent
whose desktop is on another instance (docs/cluster.md).

Place: runtime; it reaches the shared state only through the `SharedRouting` port and the
agents' phones through `AgentConnector`, as `Acd` does. The adapter that keeps the state
(`ivr.adapters.sharedacd.routing`) takes the routing steps and hands every match that
concerns this instance to `offered`: a match for one of this instance's calls wakes that
call's task, which rings the agent's phone (its address is in the shared agent row) and
bridges as the local ACD does; a match for an agent whose desktop is here becomes a
`CallOffered` event on `events`, the screen pop of this instance's CTI server. The call's
own instance publishes its `CallConnected`, `AgentLeft` (an offer not answered) and
`CallFinished` on its `events`, so its call journal (`AcdJournal`) notes the agent on the
caller's record as the local ACD's events do.

The agent's own instance follows the call in its local `Acd` (`desk`, attached by
`mirror_agents`): reserved while the phone rings, on call while it talks, then the
queue's wrap-up or the not-ready the agent asked for, as after a local call, with the
same events for its desktop (marked `remote` when the call is held elsewhere, so only the
call's instance journals them). The shared state's `finished` leaves the agent in
wrap-up; the agent's instance makes it ready or not ready (the mirror copies the local
`Acd`'s choice; without a desk, ready at once).

A waiting caller hears the queue's announcements with the place read from the shared
state (`SharedRouting.place`: calls at every instance), and `figures` gives the center's
queue figures for `/health` and the supervisor pages. A blind transfer to a queue, asked
from the agent's desktop wherever it is (`transfer_to_queue`), puts the caller back in the
shared state in that queue once the conversation ends; a blind transfer to a number ends
the agent's part at once (`release_agent`) and, if the number does not answer, puts the
caller back in its queue (`back_to_queue`). What it does not do yet (docs/cluster.md,
"Known gaps"): transfers to an agent, consultations and callbacks; those stay with the
in-process `Acd`, the default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

import trio

from ivr.runtime.acd.config import AcdSettings, Position, QueueConfig
from ivr.runtime.acd.errors import TransferError
from ivr.runtime.acd.events import (
    AgentLeft,
    AgentState,
    AgentStateChanged,
    CallConnected,
    CallFinished,
    CallOffered,
    EventHub,
)
from ivr.runtime.acd.hold import HoldSchedule, hold
from ivr.runtime.acd.service import Acd
from ivr.runtime.acd.shared import CenterFigures, Match, SharedAgent, SharedCall, SharedRouting, Step
from ivr.runtime.ports import AgentConnector, AgentEndpoint, CallLeg, QueueOutcome, QueueRequest


@dataclass(eq=False)
class _Waiting:
    """One call of this instance waiting for its match."""

    match: Match | None = None
    scope: trio.CancelScope | None = None  # the caller's hold, ended by a match
    ringing: Match | None = None  # the offer whose agent's phone rings now
    seen: set[int] = field(default_factory=set)  # the routing steps already delivered
    talking: Match | None = None  # the offer whose agent is bridged with the caller now
    queue: str = ""  # the queue the call waits or waited in
    released: bool = False  # the agent left while the caller talks on (a blind transfer)
    transfer_to: str | None = None  # the queue the agent sent the caller to (when it leaves)

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
        self.desk: Acd | None = None  # the local ACD this instance's desktops drive (mirror_agents)
        self.center: CenterFigures | None = None  # the center's queue figures, last read (`figures`)
        self._figures_at: float | None = None

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
            if self.desk is not None:
                remote = match.call_instance != self.instance
                self.desk.remote_offered(
                    match.call_id, match.agent_id, match.queue, match.screen, remote=remote
                )
                return
            self.events.publish(
                CallOffered(trio.current_time(), match.call_id, match.agent_id, match.queue, match.screen)
            )

    async def followed(self, what: str, call_id: str, agent_id: str, queue: str) -> None:
        """What became of a call of another instance offered to an agent whose desktop is
        here ("connected", "not_answered", "abandoned", "finished"): the local `Acd`
        follows it; without one, the events go out as they are."""
        desk, now = self.desk, trio.current_time()
        if what == "connected":
            if desk is not None:
                desk.remote_connected(call_id, agent_id)
            else:
                self.events.publish(CallConnected(now, call_id, agent_id, queue, remote=True))
        elif what == "not_answered":
            if desk is not None:
                desk.remote_not_answered(call_id, agent_id, "no_answer")
            else:
                self.events.publish(AgentLeft(now, call_id, agent_id, queue, "no_answer", remote=True))
        elif what == "abandoned":
            if desk is not None:
                desk.remote_abandoned(call_id, agent_id)
            else:
                self.events.publish(CallFinished(now, call_id, queue, "abandoned", remote=True))
        elif what == "finished":
            await self._after_call(call_id, agent_id, queue, remote=True)

    async def _after_call(self, call_id: str, agent_id: str, queue: str, *, remote: bool) -> None:
        """The shared state left the agent in wrap-up: the local `Acd` takes it on from
        there (its mirror makes the shared agent ready or not ready); without one, ready."""
        if self.desk is not None:
            self.desk.remote_finished(call_id, agent_id)
            return
        self.events.publish(
            CallFinished(trio.current_time(), call_id, queue, "completed", agent_id, remote=remote)
        )
        await self.state.set_ready(agent_id)

    async def catch_up(self) -> None:
        """The safety net of `followed` (a missed notification, or a call's instance that
        died during the call): a call the local `Acd` follows that the shared agent no
        longer has is ended as the shared state says, and an agent left in wrap-up by a
        call's end is taken on from there."""
        desk = self.desk
        if desk is None:
            return
        local = desk.statistics().agents
        for agent_id, state, call_id in await self.state.agents_of(self.instance):
            agent = local.get(agent_id)
            following = None if agent is None else desk.following(agent_id)
            if following is None or following == call_id:
                continue
            if state == "wrap_up":
                desk.remote_finished(following, agent_id)
            elif state == "not_ready":
                desk.remote_not_answered(following, agent_id, "no_answer")
            else:
                desk.remote_abandoned(following, agent_id)

    def transfer_to_queue(self, call_id: str, queue: str) -> None:
        """The agent sends this instance's caller `call_id` to `queue` (a blind transfer,
        from the agent's desktop, wherever it is): once its conversation ends (the caller's
        connector finishes it), the agent goes to wrap-up and the caller waits in `queue`
        as a new arrival in the center. `TransferError` when the call talks to no agent
        here or the queue is unknown; nothing changed then."""
        waiting = self._waiting.get(call_id)
        if waiting is None or waiting.talking is None:
            raise TransferError(f"call {call_id} is not talking to an agent at this instance")
        if queue not in self._settings.queues:
            raise TransferError(f"there is no queue {queue!r}")
        waiting.transfer_to = queue

    async def release_agent(self, call_id: str) -> None:
        """The agent left this instance's caller with someone else (a blind transfer to a
        number, from the agent's desktop wherever it is): the agent's part ends now (wrap-up
        at its own instance) while the caller's conversation goes on here."""
        waiting = self._waiting.get(call_id)
        if waiting is None or waiting.talking is None or waiting.released:
            raise TransferError(f"call {call_id} is not talking to an agent at this instance")
        waiting.released = True
        await self._finish(waiting.talking, waiting.queue)

    def back_to_queue(self, call_id: str) -> None:
        """The number a released caller was sent to did not answer: the caller waits in its
        queue again once the conversation ends (as a local blind transfer does)."""
        waiting = self._waiting.get(call_id)
        if waiting is not None and waiting.released and waiting.talking is not None:
            waiting.transfer_to = waiting.queue

    def agent_elsewhere(self, call_id: str) -> bool:
        """Whether `call_id` (held here) talks with an agent whose desktop is on another
        instance (that instance's CTI follows it, not this one's)."""
        waiting = self._waiting.get(call_id)
        talking = None if waiting is None else waiting.talking
        return talking is not None and talking.agent_instance != self.instance

    def released(self, call_id: str) -> bool:
        """Whether the agent left `call_id` (held here) to someone else, who talks on."""
        waiting = self._waiting.get(call_id)
        return waiting is not None and waiting.released

    def _desk_here(self, match: Match) -> Acd | None:
        """The local `Acd` following the call, when the agent's desktop is on this instance."""
        return self.desk if match.agent_instance == self.instance else None

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
                    abandoned = await self.state.abandon(leg.call_id)
                ringing = waiting.ringing
                desk = None if ringing is None else self._desk_here(ringing)
                if abandoned.applied and ringing is not None and desk is not None:
                    desk.remote_abandoned(leg.call_id, ringing.agent_id)

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
            match = await self._wait_for_match(leg, request, config, waiting, schedule, deadline)
            if match is None:
                return "timeout"
            agent = AgentEndpoint(match.agent_id, match.address)
            ring_timeout = Decimal(str(config.ring_timeout))
            desk = self._desk_here(match)
            waiting.ringing = match
            answer = await self._connector.ring(leg, agent, ring_timeout=ring_timeout, screen=match.screen)
            waiting.ringing = None
            if answer != "answered":
                await self.state.not_answered(match.call_id)
                if desk is not None:
                    desk.remote_not_answered(leg.call_id, agent.agent_id, answer)
                else:
                    now = trio.current_time()
                    self.events.publish(AgentLeft(now, leg.call_id, agent.agent_id, request.queue, answer))
                continue
            await self.state.answered(match.call_id)
            if desk is not None:
                desk.remote_connected(leg.call_id, agent.agent_id)
            else:
                now = trio.current_time()
                self.events.publish(CallConnected(now, leg.call_id, agent.agent_id, request.queue))
            waiting.talking, waiting.queue, waiting.released = match, request.queue, False
            try:
                await self._connector.bridge(leg, agent, flows=request.flows)
            finally:
                waiting.talking = None
                if not waiting.released:  # else the agent's part ended already
                    with trio.CancelScope(shield=True):
                        await self._finish(match, request.queue)
            if waiting.transfer_to is None:
                return "completed"
            request = await self._requeue(leg, request, waiting)
            config = self._settings.queue(request.queue)
            schedule = HoldSchedule(trio.current_time())
            limit = config.max_wait
            deadline = math.inf if limit is None else trio.current_time() + float(limit)

    async def _requeue(self, leg: CallLeg, request: QueueRequest, waiting: _Waiting) -> QueueRequest:
        """The agent sent the caller to another queue: it waits there, with that queue's
        skills and its own priority, as a new arrival (the shared state has no place kept)."""
        queue, waiting.transfer_to = waiting.transfer_to or request.queue, None
        config = self._settings.queue(queue)
        moved = replace(request, queue=queue, skills=(), max_wait=None)
        call = SharedCall(
            leg.call_id,
            queue,
            request.priority,
            frozenset(config.skills),
            self.instance,
            vip=request.priority >= config.vip_priority,
            screen={**_screen(leg, request), "queue": queue},
        )
        await self.state.add_call(call)
        return moved

    async def _finish(self, match: Match, queue: str) -> None:
        """The conversation ended: the shared agent goes to wrap-up, and its own instance
        decides what follows (`followed`; here when the agent's desktop is here)."""
        await self.state.finished(match.call_id, wrap_up=True)
        if match.agent_instance == self.instance:
            await self._after_call(match.call_id, match.agent_id, queue, remote=False)
            return
        self.events.publish(
            CallFinished(trio.current_time(), match.call_id, queue, "completed", match.agent_id)
        )

    async def _wait_for_match(
        self,
        leg: CallLeg,
        request: QueueRequest,
        config: QueueConfig,
        waiting: _Waiting,
        schedule: HoldSchedule,
        deadline: float,
    ) -> Match | None:
        """Hold until a match arrives; at the deadline leave the queue, unless a routing
        step offered the call first (then the offer stands and is taken)."""

        async def position() -> Position | None:
            return await self._position(leg.call_id, request, config)

        while waiting.match is None:
            with trio.move_on_at(deadline), trio.CancelScope() as scope:
                waiting.scope = scope
                await hold(leg, config, schedule, position)
            waiting.scope = None
            if waiting.match is None and trio.current_time() >= deadline:
                if (await self.state.withdraw_call(leg.call_id)).applied:
                    return None
                for match in await self.state.offers_for(self.instance):  # the step that won
                    if match.call_id == leg.call_id:
                        waiting.deliver(match)
                deadline = math.inf
        return waiting.take()

    async def _position(self, call_id: str, request: QueueRequest, config: QueueConfig) -> Position | None:
        """The caller's place in the center (calls at every instance), and the expected wait:
        the place times the queue's average handle time over the recent calls of every
        instance (its `default_handle_time` until one was handled), shared by the agents
        having the skills. None: not waiting any more, or unknown."""
        place = await self.state.place(call_id)
        if place is None:
            return None
        handle = place.handle_time if place.handle_time is not None else config.default_handle_time
        wait = place.position * handle / max(1, place.covering)
        return Position(request, place.position, round(wait))

    async def figures(self, max_age: float = 1.0) -> CenterFigures | None:
        """The center's live queue figures, read at most every `max_age` seconds (pages and
        /health ask often); the last ones read when the state cannot be read just now."""
        now = trio.current_time()
        if self._figures_at is None or now - self._figures_at >= max_age:
            self._figures_at = now
            self.center = await self.state.figures() or self.center
        return self.center

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
    shared.desk = acd  # shared calls offered to its agents are followed there
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
