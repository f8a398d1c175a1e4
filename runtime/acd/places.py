"""Kept places in the ACD core: a caller who chose to be called back stays in the queue as
a *virtual* entry with the same id, priority and arrival number, so it is offered in turn
exactly as if the caller were still holding.

Place: a part of `ivr.runtime.acd.core.AcdCore` (mixed in), like `handover`. The offer that
reaches a virtual entry reserves the agent as for any call; the driver
(`ivr.runtime.acd.callbacks`) then dials the customer; the agent is reserved without a
`CallOffered` event until the customer answers (then the offer carries the call's new id:
its leg's). Answered, the entry is a live call again (`callback_answered`) and is connected
to the reserved agent as any other. Not
answered (or no idle trunk channel), the agent is released with its place among idle
agents (`callback_unanswered`) and the entry steps out of routing until its retry
(`callback_due`), or leaves the ACD when the retries are spent. No trio, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from ivr.runtime.acd.config import AcdSettings
from ivr.runtime.acd.events import AcdEvent, AgentState, CallOffered, LeftQueue, QueueChanged
from ivr.runtime.acd.index import AgentIndex, CallIndex
from ivr.runtime.acd.model import Agent, CallState, Decision, Offer, QueuedCall
from ivr.runtime.acd.stats import QueueCounters


class PlaceKeeping:
    if TYPE_CHECKING:  # what the core provides
        settings: AcdSettings
        calls: dict[str, QueuedCall]
        agents: dict[str, Agent]
        _emit: Callable[[AcdEvent], None]
        _agent_index: AgentIndex
        _call_index: CallIndex

        def _queue(self, name: str) -> tuple[QueueCounters, dict[str, QueuedCall]]: ...
        def _enter(self, call: QueuedCall, now: float) -> None: ...
        def _route_call(self, call: QueuedCall, now: float) -> list[Decision]: ...
        def _become_ready(self, agent: Agent, now: float, *, keep_idle: bool = False) -> list[Decision]: ...
        def _leave(self, call: QueuedCall, outcome: LeftQueue, now: float) -> None: ...
        def _next_seq(self) -> int: ...
        def _offer(self, call: QueuedCall, agent: Agent, now: float) -> Offer: ...

    def keep_place(self, call_id: str, number: str, now: float) -> None:
        """The waiting caller pressed the callback key: the entry stays where it is, now
        virtual (to be called back on `number`)."""
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.WAITING:
            found = "not in the ACD" if call is None else call.state.value
            raise ValueError(f"call {call_id!r} is {found}, expected waiting")
        call.callback = number
        call.screen = {**call.screen, "callback": number}
        self._queue(call.queue)[0].callbacks += 1

    def restore_place(
        self,
        call_id: str,
        queue: str,
        skills: Iterable[str],
        priority: int,
        number: str,
        now: float,
        screen: Mapping[str, object] | None = None,
    ) -> list[Decision]:
        """A kept place read back at start-up (in arrival order, before any new call): it
        waits again with its priority, behind the places restored before it."""
        if call_id in self.calls:
            raise ValueError(f"call {call_id!r} is already in the ACD")
        required = frozenset(skills) | frozenset(self.settings.queue(queue).skills)
        self._agent_index.track(required)
        shown = {**(screen or {}), "callback": number}
        call = QueuedCall(call_id, queue, required, priority, self._next_seq(), now, shown, callback=number)
        self.calls[call_id] = call
        self._enter(call, now)
        return self._route_call(call, now)

    def callback_answered(self, call_id: str, leg_id: str, now: float) -> None:
        """The customer picked up on the leg `leg_id`: the entry is a live call ringing its
        reserved agent, known from now on by the leg's id (as every call is by its leg's, so
        the agent's phone and desktop find it)."""
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.OFFERED or call.callback is None:
            raise ValueError(f"call {call_id!r} is not a callback being offered")
        if leg_id in self.calls and leg_id != call_id:
            raise ValueError(f"call {leg_id!r} is already in the ACD")
        call.callback = None
        members = self._queue(call.queue)[1]
        del self.calls[call_id]
        members.pop(call_id, None)
        call.call_id = leg_id
        self.calls[leg_id] = members[leg_id] = call
        agent = self.agents.get(str(call.agent_id))
        if agent is not None:
            agent.call_id = leg_id
            # the agent was reserved quietly; its phone rings now, so the desk is offered now
            self._emit(CallOffered(now, leg_id, agent.agent_id, call.queue, call.screen, call.offer, None))

    def callback_unanswered(self, call_id: str, now: float, *, retry: bool) -> list[Decision]:
        """The customer did not answer (or no channel was free): the reserved agent is free
        again with its place among idle agents; the entry steps out of routing until
        `callback_due` (retry), or leaves the ACD (retries spent)."""
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.OFFERED or call.callback is None:
            return []
        agent = self.agents.get(str(call.agent_id))
        call.agent_id = None
        if retry:
            call.state = CallState.DEFERRED
        else:
            counters = self._queue(call.queue)[0]
            counters.abandoned += 1
            counters.callbacks_failed += 1
            self._leave(call, "abandoned", now)
        if agent is None or agent.state is not AgentState.RESERVED:
            return []
        agent.call_id = None
        return self._become_ready(agent, now, keep_idle=True)

    def place_taken(self, call_id: str, now: float) -> list[Decision]:
        """A kept place another instance took over while this one was silent (the shared
        journal refused its call back): it leaves this ACD without counting as served or
        abandoned here, and the agent reserved for it is free again in its place."""
        call = self.calls.get(call_id)
        if call is None or call.callback is None:
            return []
        agent = self.agents.get(str(call.agent_id)) if call.agent_id is not None else None
        members = self._queue(call.queue)[1]
        del self.calls[call_id]
        if members.pop(call_id, None) is not None:
            self._emit(QueueChanged(now, call.queue, len(members)))
        if agent is None or agent.state is not AgentState.RESERVED:
            return []
        agent.call_id = None
        return self._become_ready(agent, now, keep_idle=True)

    def callback_due(self, call_id: str, now: float) -> list[Decision]:
        """A deferred entry's retry fell due: it is routed again in its old place."""
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.DEFERRED:
            return []
        call.state = CallState.WAITING
        return self._route_call(call, now)

    def kept_place_before_wrap_up_ends(self, agent: Agent, now: float) -> list[Decision]:
        """Shortly before `agent`'s wrap-up ends: if the call it would take next is a kept
        place, the agent is reserved for it now (its wrap-up ends), so the customer rings
        while the agent finishes; otherwise nothing changes."""
        if agent.state is not AgentState.WRAP_UP or agent.after_call is not None:
            return []
        best: QueuedCall | None = None
        for skills in agent.covered:
            call = self._call_index.peek(skills)
            if call is not None and (best is None or call.rank < best.rank):
                best = call
        if best is None or best.callback is None:
            return []
        self._call_index.pop(best.skills)
        return [self._offer(best, agent, now)]

    def kept_places(self) -> list[QueuedCall]:
        """The virtual entries (waiting, offered or deferred), in arrival order."""
        return sorted((c for c in self.calls.values() if c.callback is not None), key=lambda c: c.seq)
