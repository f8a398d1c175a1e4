"""`Acd`: the trio ACD. It implements the `AgentRouting` port for the engine's `enqueue`
step and the agent API for the CTI server, driving the synchronous core
(`ivr.runtime.acd.core`) with the trio clock and reaching agents through the
`AgentConnector` port.

One `enqueue` call runs in the caller's own task: it waits (hearing `hold`), rings the
agent it is offered, bridges, and returns "completed", "timeout", "overflow" or
"no_agents". Wrap-up and cooldown timers run in the nursery of `open_acd`.

Transfers (from the CTI, while the caller's task is in the bridge) change the core first;
the agent connector then ends the agent's side, the bridge returns, and the caller's task
carries on with whatever the core decided: wait in another queue, ring the named agent,
or finish. So the outcome `enqueue` returns is that of the caller's last queue.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

import trio

from ivr.runtime.acd.callbacks import UNREACHED, CallbackSettings, hold_offering, offer_due
from ivr.runtime.acd.config import AcdSettings, Position, QueueConfig
from ivr.runtime.acd.core import AcdCore
from ivr.runtime.acd.errors import SeatsFull
from ivr.runtime.acd.events import AcdEvent, AgentPart, EventHub
from ivr.runtime.acd.hold import HoldSchedule, hold
from ivr.runtime.acd.model import Decision, Eviction, Offer, Wake
from ivr.runtime.acd.stats import AcdStatistics
from ivr.runtime.ports import (
    AgentConnector,
    AgentEndpoint,
    AnsweredBy,
    CallbackStep,
    CallEnded,
    CallLeg,
    DialRequest,
    KeptPlace,
    QueueOutcome,
    QueueRequest,
    StoreConflict,
)


@asynccontextmanager
async def open_acd(
    connector: AgentConnector, settings: AcdSettings | None = None, callbacks: CallbackSettings | None = None
) -> AsyncIterator[Acd]:
    """Run an ACD for the life of the block. With `callbacks`, queue callback offers are
    played and kept places (read back from its journal first) are called back."""
    async with trio.open_nursery() as nursery:
        settings = settings or AcdSettings()
        if callbacks is not None and settings.callback_lead is None:
            settings = replace(settings, callback_lead=callbacks.wrap_up_lead)
        acd = Acd(connector, settings, nursery, callbacks)
        await acd.restore_kept_places()
        yield acd
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
class _KeptWaiter:
    """Hands the core's offer for a kept place to the call-back driver."""

    acd: Acd

    def deliver(self, decision: Offer | Eviction) -> None:
        if isinstance(decision, Offer):
            self.acd.start_call_back(decision)


@dataclass(slots=True, eq=False)
class _Waiting:
    leg: CallLeg
    request: QueueRequest
    config: QueueConfig
    call_id: str
    kept: bool = False  # a called-back customer: waits without a limit, hears no offer
    waiter: _Waiter = field(default_factory=_Waiter)


class Acd:
    """Queues, agents and routing. Build it with `open_acd`."""

    def __init__(
        self,
        connector: AgentConnector,
        settings: AcdSettings,
        nursery: trio.Nursery,
        callbacks: CallbackSettings | None = None,
    ) -> None:
        self._connector = connector
        self._nursery = nursery
        self._hub = EventHub()
        self._core = AcdCore(settings, self._hub.publish)
        self._waiters: dict[str, _Waiter | _KeptWaiter] = {}
        self._callbacks = callbacks
        self._attempts: dict[str, int] = {}  # callback calls placed per kept place

    # -- AgentRouting ---------------------------------------------------------------------
    async def enqueue(self, leg: CallLeg, request: QueueRequest) -> QueueOutcome:
        if leg.call_id in self._waiters:
            raise ValueError(f"call {leg.call_id!r} is already queued")
        call = _Waiting(leg, request, self._core.queue_config(request.queue), leg.call_id)
        self._waiters[leg.call_id] = call.waiter
        screen: dict[str, object] = {"queue": request.queue, "caller": leg.caller, "dialed": leg.dialed}
        if request.language:
            screen["language"] = request.language
        if request.path:
            screen["ivr_path"] = list(request.path)
        screen.update(request.data)
        # last: the SIP phone's bounded screen header keeps the flow's data first
        screen.setdefault("channel", request.channel)
        try:
            now = trio.current_time()
            self._apply(
                self._core.add_call(leg.call_id, request.queue, request.skills, request.priority, now, screen)
            )
            return await self._serve(call)
        finally:
            if not self._is_kept(leg.call_id):
                del self._waiters[leg.call_id]
                self._apply(self._core.abandon(leg.call_id, trio.current_time()))

    def _is_kept(self, call_id: str) -> bool:
        entry = self._core.calls.get(call_id)
        return entry is not None and entry.callback is not None

    async def _serve(self, call: _Waiting, offer: Offer | None = None) -> QueueOutcome:
        entered = trio.current_time()
        deadline = self._deadline(call, entered)
        schedule = HoldSchedule(entered)
        due = (
            offer_due(call.request.callback, entered, self._core.expected_wait(call.call_id))
            if (call.request.callback is not None)
            else math.inf
        )
        while True:
            decision = offer or await self._wait_turn(call, schedule, deadline, due)
            offer, due = None, math.inf  # the callback is offered once per wait
            if decision is None:
                self._core.time_out(call.call_id, trio.current_time())
                return "timeout"
            if decision == "callback":
                await self._journal_kept(call)
                return "callback"
            if isinstance(decision, Eviction):
                return decision.outcome
            if await self._connect(call, decision):
                return "completed"
            entry = self._core.calls[call.call_id]
            if entry.arrived != entered:  # a transfer put it (back) into a queue: a new wait
                entered, call.config = entry.arrived, self._core.queue_config(entry.queue)
                deadline = self._deadline(call, entered)

    @staticmethod
    def _deadline(call: _Waiting, entered: float) -> float:
        """The node's `max_wait` in the node's own queue, else the queue's; either one
        when the other is not set. A called-back customer has no limit."""
        if call.kept:
            return math.inf
        node, queue = call.request.max_wait, call.config.max_wait
        own = call.config.name == call.request.queue
        first, second = (node, queue) if own else (queue, node)
        limit = first if first is not None else second
        return math.inf if limit is None else entered + float(limit)

    async def _wait_turn(
        self, call: _Waiting, schedule: HoldSchedule, deadline: float, due: float
    ) -> Offer | Eviction | Literal["callback"] | None:
        if call.waiter.decision is None:
            with trio.move_on_at(deadline), trio.CancelScope() as scope:
                call.waiter.scope = scope

                async def holding() -> None:
                    await hold(call.leg, call.config, schedule, lambda: self._position(call))

                async def offered() -> None:
                    await self._step(call.call_id, "offered")

                offer = call.request.callback if self._callbacks is not None and not call.kept else None
                pressed = await hold_offering(call.leg, offer, due, holding, offered)
                if pressed and offer is not None and call.waiter.decision is None:
                    self._keep_place(call, offer.number)
                    return "callback"
        return call.waiter.take()

    async def _connect(self, call: _Waiting, offer: Offer) -> bool:
        """Ring the offered agent; True once the call is finished (False: it is back in the
        ACD, not answered or transferred)."""
        call_id, agent = call.call_id, AgentEndpoint(offer.agent_id, offer.address)
        ring_timeout = Decimal(str(call.config.ring_timeout))
        screen = self._core.offer_screen(call_id)
        answer = await self._connector.ring(call.leg, agent, ring_timeout=ring_timeout, screen=screen)
        if answer != "answered":
            self._apply(self._core.not_answered(call_id, trio.current_time(), answer))
            return False
        self._core.answered(call_id, trio.current_time())
        try:
            await self._connector.bridge(call.leg, agent, flows=call.request.flows)
        finally:
            self._apply(self._core.bridge_ended(call_id, trio.current_time()))
        return call_id not in self._core.calls

    def _position(self, call: _Waiting) -> Position:
        call_id = call.call_id
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
        self._apply(self._core.wake(wake.agent_id, wake.epoch, trio.current_time(), early=wake.early))

    # -- kept places and callbacks (docs/acd.md, "Callbacks") -------------------------------
    def _keep_place(self, call: _Waiting, number: str) -> None:
        """The caller pressed the key: from now on the place is the call-back driver's."""
        self._core.keep_place(call.call_id, number, trio.current_time())
        self._waiters[call.call_id] = _KeptWaiter(self)

    async def _journal_kept(self, call: _Waiting) -> None:
        """Make the kept place durable before the caller hears "we will call you back"."""
        assert self._callbacks is not None and call.request.callback is not None
        entry = self._core.calls[call.call_id]
        place = KeptPlace(
            call.call_id,
            entry.queue,
            sorted(entry.skills),
            entry.priority,
            call.request.callback.number,
            self._callbacks.wall_clock(),
            {k: v for k, v in entry.screen.items() if k != "callback"},
        )
        with trio.CancelScope(shield=True):
            await self._callbacks.journal.keep(place)
            await self._step(call.call_id, "accepted")

    async def _step(self, call_id: str, step: CallbackStep, detail: str = "") -> None:
        if self._callbacks is not None:
            await self._callbacks.journal.step(call_id, step, self._callbacks.wall_clock(), detail)

    async def restore_kept_places(self, only: Collection[str] | None = None) -> list[str]:
        """Read the journal's pending places back into the queues, oldest first (`only`:
        just these, as when this instance took over a silent peer's places: they wait again
        behind the calls waiting now, each with its priority). The call ids restored."""
        if self._callbacks is None:
            return []
        restored: list[str] = []
        for place in await self._callbacks.journal.pending():
            if only is not None and place.call_id not in only:
                continue
            if place.call_id in self._core.calls or not self.knows_queue(place.queue):
                continue
            restored.append(place.call_id)
            self._attempts[place.call_id] = place.attempts
            self._waiters[place.call_id] = _KeptWaiter(self)
            now = trio.current_time()
            decisions = self._core.restore_place(
                place.call_id, place.queue, place.skills, place.priority, place.number, now, place.screen
            )
            self._apply(decisions)
        return restored

    def start_call_back(self, offer: Offer) -> None:
        self._nursery.start_soon(self._call_back, offer)

    async def _call_back(self, offer: Offer) -> None:
        """An agent is reserved for a kept place: call the customer and connect them."""
        settings, call_id = self._callbacks, offer.call_id
        entry = self._core.calls.get(call_id)
        if settings is None or entry is None or entry.callback is None:
            return
        if settings.dialer.free_channels(settings.trunk) <= 0:
            await self._step(call_id, "no_channel")
            self._retry_later(call_id, settings.no_channel_wait)
            return
        attempt = self._attempts[call_id] = self._attempts.get(call_id, 0) + 1
        request = DialRequest(
            f"{call_id}-cb{attempt}",
            entry.callback,
            settings.trunk,
            settings.ring_timeout,
            detect_machines=False,
            yield_answered=False,  # the customer is with an agent: never hung up for inbound
        )
        try:
            await self._step(call_id, "dialled", request.attempt_id)
        except StoreConflict:  # a peer took the place over while this instance was silent
            self._apply(self._core.place_taken(call_id, trio.current_time()))
            self._waiters.pop(call_id, None)
            self._attempts.pop(call_id, None)
            return
        reached = False

        async def answered(leg: CallLeg, answered_by: AnsweredBy) -> None:
            nonlocal reached
            reached = True
            await self._connect_called_back(leg, call_id, offer)

        result = await settings.dialer.call(request, answered)
        if reached:
            return
        await self._step(call_id, UNREACHED[result.outcome], result.reason)
        if result.outcome == "yielded":  # hung up while ringing for an inbound caller: not a try
            self._attempts[call_id] -= 1
            self._retry_later(call_id, settings.no_channel_wait)
            return
        if attempt < settings.attempts:
            self._retry_later(call_id, settings.retry_after)
            return
        self._apply(self._core.callback_unanswered(call_id, trio.current_time(), retry=False))
        self._waiters.pop(call_id, None)
        await self._step(call_id, "gave_up", f"{attempt} calls unanswered")

    def _retry_later(self, call_id: str, seconds: float) -> None:
        now = trio.current_time()
        self._apply(self._core.callback_unanswered(call_id, now, retry=True))
        self._nursery.start_soon(self._callback_due, call_id, now + seconds)

    async def _callback_due(self, call_id: str, at: float) -> None:
        await trio.sleep_until(at)
        self._apply(self._core.callback_due(call_id, trio.current_time()))

    async def _connect_called_back(self, leg: CallLeg, call_id: str, offer: Offer) -> None:
        """The customer answered: they are the caller now, and ring the reserved agent."""
        await self._step(call_id, "answered", leg.call_id)
        entry = self._core.calls[call_id]
        self._core.callback_answered(call_id, leg.call_id, trio.current_time())
        self._waiters.pop(call_id, None)
        request = QueueRequest(entry.queue, (), entry.priority, entry.screen, None)
        call = _Waiting(leg, request, self._core.queue_config(entry.queue), leg.call_id, kept=True)
        self._waiters[leg.call_id] = call.waiter
        offer = Offer(leg.call_id, offer.agent_id, offer.address)
        outcome: CallbackStep = "hung_up"
        try:
            if await self._serve(call, offer) == "completed":
                outcome = "connected"
        except CallEnded:
            pass
        finally:
            self._waiters.pop(leg.call_id, None)
            self._apply(self._core.abandon(leg.call_id, trio.current_time()))
            with trio.CancelScope(shield=True):
                await self._step(call_id, outcome)

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
        if self._callbacks is not None and settings.callback_lead is None:
            settings = replace(settings, callback_lead=self._callbacks.wrap_up_lead)
        self._core.reconfigure(settings)

    def logout(self, agent_id: str) -> None:
        self._apply(self._core.logout(agent_id, trio.current_time()))

    def set_ready(self, agent_id: str) -> None:
        self._apply(self._core.set_ready(agent_id, trio.current_time()))

    def set_not_ready(self, agent_id: str, reason: str | None = None) -> None:
        self._core.set_not_ready(agent_id, trio.current_time(), reason)

    def not_ready_after_call(self, agent_id: str, reason: str | None) -> None:
        """During a call: not ready with `reason` once it ends (None takes it back)."""
        self._core.not_ready_after_call(agent_id, reason, trio.current_time())

    def end_wrap_up(self, agent_id: str) -> None:
        self._apply(self._core.end_wrap_up(agent_id, trio.current_time()))

    def extend_wrap_up(self, agent_id: str, seconds: float) -> None:
        self._apply(self._core.extend_wrap_up(agent_id, seconds, trio.current_time()))

    # -- calls of a shared center (docs/cluster.md): followed, never routed here ---------------
    def remote_offered(
        self, call_id: str, agent_id: str, queue: str, screen: Mapping[str, object], *, remote: bool
    ) -> None:
        self._core.remote_offered(call_id, agent_id, queue, screen, trio.current_time(), remote=remote)

    def following(self, agent_id: str) -> str | None:
        """The shared call `agent_id` is offered or talks with (None: none)."""
        agent = self._core.agents.get(agent_id)
        if agent is None or agent.call_id not in self._core.remote_calls:
            return None
        return agent.call_id

    def held_elsewhere(self, call_id: str) -> bool:
        """Whether `call_id` is a shared call another instance holds (its agent's desktop
        is here): the desktop's call controls must travel there (docs/cluster.md)."""
        call = self._core.remote_calls.get(call_id)
        return call is not None and call.remote

    def remote_connected(self, call_id: str, agent_id: str) -> None:
        self._core.remote_connected(call_id, agent_id, trio.current_time())

    def remote_not_answered(self, call_id: str, agent_id: str, outcome: AgentPart) -> None:
        self._apply(self._core.remote_not_answered(call_id, agent_id, outcome, trio.current_time()))

    def remote_abandoned(self, call_id: str, agent_id: str) -> None:
        self._apply(self._core.remote_abandoned(call_id, agent_id, trio.current_time()))

    def remote_finished(self, call_id: str, agent_id: str) -> None:
        self._apply(self._core.remote_finished(call_id, agent_id, trio.current_time()))

    # -- transfers (the CTI, while the caller talks to the agent) ------------------------------
    def knows_queue(self, name: str) -> bool:
        """Whether `name` is a configured queue (transfers go only to those)."""
        return name in self._core.settings.queues

    def requeue(self, call_id: str, queue: str) -> None:
        """Hand the caller to `queue`; `TransferError` (nothing changed) when it cannot."""
        self._apply(self._core.requeue(call_id, queue, trio.current_time()))

    def transfer_to_agent(self, call_id: str, agent_id: str) -> None:
        self._apply(self._core.transfer_to_agent(call_id, agent_id, trio.current_time()))

    def release_agent(self, call_id: str) -> None:
        """The agent hands the caller to a number: the call goes on outside the ACD."""
        self._apply(self._core.release_agent(call_id, trio.current_time()))

    def consult(self, call_id: str, agent_id: str) -> None:
        self._core.consult(call_id, agent_id, trio.current_time())

    def consult_answered(self, call_id: str) -> None:
        self._core.consult_answered(call_id, trio.current_time())

    def consult_ended(self, call_id: str, outcome: AgentPart = "consult_ended") -> None:
        self._apply(self._core.consult_ended(call_id, trio.current_time(), outcome))

    def complete_transfer(self, call_id: str) -> None:
        self._apply(self._core.complete_transfer(call_id, trio.current_time()))

    def consult_agent_for(self, queue: str) -> AgentEndpoint | None:
        """The ready agent `queue` would take next, for a consultation (None: nobody)."""
        agent = self._core.best_ready_agent(queue)
        return None if agent is None else AgentEndpoint(agent.agent_id, agent.address)

    def subscribe(self, buffer: int = 256) -> trio.MemoryReceiveChannel[AcdEvent]:
        """Every event from now on; see `EventHub.subscribe` for slow subscribers."""
        return self._hub.subscribe(buffer)

    @property
    def events(self) -> EventHub:
        """The hub the desktop's events go through (a shared ACD publishes its offers here)."""
        return self._hub

    def statistics(self) -> AcdStatistics:
        return self._core.statistics(trio.current_time())
