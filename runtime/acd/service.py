"""`Acd`: the trio ACD. It implements the `AgentRouting` port for the engine's `enqueue`
step and the agent API for the CTI server, driving the synchronous core
(`ivr.runtime.acd.core`) with the trio clock and reaching agents through the
`AgentConnector` port.

One `enqueue` call runs in the caller's own task: it waits (hearing `hold`), rings the
agent it is offered, bridges, and returns "completed", "timeout", "overflow" or
"no_agents". Wrap-up and cooldown timers run in the nursery of `open_acd`.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import trio

from ivr.runtime.acd.config import AcdSettings, Position, QueueConfig
from ivr.runtime.acd.core import AcdCore
from ivr.runtime.acd.errors import SeatsFull
from ivr.runtime.acd.events import AcdEvent, EventHub
from ivr.runtime.acd.hold import HoldSchedule, hold
from ivr.runtime.acd.model import Decision, Eviction, Offer, Wake
from ivr.runtime.acd.stats import AcdStatistics
from ivr.runtime.ports import AgentConnector, AgentEndpoint, CallLeg, QueueOutcome, QueueRequest


@asynccontextmanager
async def open_acd(connector: AgentConnector, settings: AcdSettings | None = None) -> AsyncIterator[Acd]:
    """Run an ACD for the life of the block."""
    async with trio.open_nursery() as nursery:
        yield Acd(connector, settings or AcdSettings(), nursery)
        nursery.cancel_scope.cancel()


@dataclass(slots=True, eq=False)
class _Waiter:
    """Hands the core's decision for one call to that call's task."""

    decision: Offer | Eviction | None = None
    scope: trio.CancelScope | None = None

    def deliver(self, decision: Offer | Eviction) -> None:
        self.decision = decision
        if self.scope is not None:
            self.scope.cancel()

    def take(self) -> Offer | Eviction | None:
        decision, self.decision, self.scope = self.decision, None, None
        return decision


@dataclass(slots=True, eq=False)
class _Waiting:
    leg: CallLeg
    request: QueueRequest
    config: QueueConfig
    waiter: _Waiter = field(default_factory=_Waiter)


class Acd:
    """Queues, agents and routing. Build it with `open_acd`."""

    def __init__(self, connector: AgentConnector, settings: AcdSettings, nursery: trio.Nursery) -> None:
        self._connector = connector
        self._nursery = nursery
        self._hub = EventHub()
        self._core = AcdCore(settings, self._hub.publish)
        self._waiters: dict[str, _Waiter] = {}

    # -- AgentRouting ---------------------------------------------------------------------
    async def enqueue(self, leg: CallLeg, request: QueueRequest) -> QueueOutcome:
        if leg.call_id in self._waiters:
            raise ValueError(f"call {leg.call_id!r} is already queued")
        call = _Waiting(leg, request, self._core.queue_config(request.queue))
        self._waiters[leg.call_id] = call.waiter
        screen = {"queue": request.queue, "caller": leg.caller, "dialed": leg.dialed, **request.data}
        try:
            now = trio.current_time()
            self._apply(
                self._core.add_call(leg.call_id, request.queue, request.skills, request.priority, now, screen)
            )
            return await self._serve(call)
        finally:
            del self._waiters[leg.call_id]
            self._apply(self._core.abandon(leg.call_id, trio.current_time()))

    async def _serve(self, call: _Waiting) -> QueueOutcome:
        limit = call.request.max_wait if call.request.max_wait is not None else call.config.max_wait
        deadline = math.inf if limit is None else trio.current_time() + float(limit)
        schedule = HoldSchedule(trio.current_time())
        while True:
            decision = await self._wait_turn(call, schedule, deadline)
            if decision is None:
                self._core.time_out(call.leg.call_id, trio.current_time())
                return "timeout"
            if isinstance(decision, Eviction):
                return decision.outcome
            if await self._connect(call, decision):
                return "completed"

    async def _wait_turn(
        self, call: _Waiting, schedule: HoldSchedule, deadline: float
    ) -> Offer | Eviction | None:
        if call.waiter.decision is None:
            with trio.move_on_at(deadline), trio.CancelScope() as scope:
                call.waiter.scope = scope
                await hold(call.leg, call.config, schedule, lambda: self._position(call))
        return call.waiter.take()

    async def _connect(self, call: _Waiting, offer: Offer) -> bool:
        """Ring the offered agent; True once a conversation took place."""
        call_id, agent = call.leg.call_id, AgentEndpoint(offer.agent_id, offer.address)
        ring_timeout = Decimal(str(call.config.ring_timeout))
        screen = self._core.calls[call_id].screen
        answer = await self._connector.ring(call.leg, agent, ring_timeout=ring_timeout, screen=screen)
        if answer != "answered":
            self._apply(self._core.not_answered(call_id, trio.current_time()))
            return False
        self._core.answered(call_id, trio.current_time())
        try:
            await self._connector.bridge(call.leg, agent)
        finally:
            self._apply(self._core.finished(call_id, trio.current_time()))
        return True

    def _position(self, call: _Waiting) -> Position:
        call_id = call.leg.call_id
        wait = self._core.expected_wait(call_id)
        return Position(call.request, self._core.position(call_id), round(wait))

    def _apply(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, Wake):
                self._nursery.start_soon(self._wake, decision)
            else:
                self._waiters[decision.call_id].deliver(decision)

    async def _wake(self, wake: Wake) -> None:
        await trio.sleep_until(wake.at)
        self._apply(self._core.wake(wake.agent_id, wake.epoch, trio.current_time()))

    # -- the agent API (for the CTI server) ----------------------------------------------------
    def login(self, agent_id: str, address: str, skills: Mapping[str, int], *, ready: bool = False) -> None:
        """Log the agent in, `not_ready` unless `ready`; `skills` maps skill to level.
        `SeatsFull` when the settings' `max_agents` are logged in already."""
        limit = self._core.settings.max_agents
        if limit is not None and agent_id not in self._core.agents and len(self._core.agents) >= limit:
            raise SeatsFull(f"all {limit} agent seats are taken; log another agent out first")
        self._apply(self._core.login(agent_id, address, skills, trio.current_time(), ready=ready))

    def reconfigure(self, settings: AcdSettings) -> None:
        """Apply new settings (queues, seat quota) to every decision from now on."""
        self._core.reconfigure(settings)

    def logout(self, agent_id: str) -> None:
        self._apply(self._core.logout(agent_id, trio.current_time()))

    def set_ready(self, agent_id: str) -> None:
        self._apply(self._core.set_ready(agent_id, trio.current_time()))

    def set_not_ready(self, agent_id: str) -> None:
        self._core.set_not_ready(agent_id, trio.current_time())

    def end_wrap_up(self, agent_id: str) -> None:
        self._apply(self._core.end_wrap_up(agent_id, trio.current_time()))

    def subscribe(self, buffer: int = 256) -> trio.MemoryReceiveChannel[AcdEvent]:
        """Every event from now on; see `EventHub.subscribe` for slow subscribers."""
        return self._hub.subscribe(buffer)

    def statistics(self) -> AcdStatistics:
        return self._core.statistics(trio.current_time())
