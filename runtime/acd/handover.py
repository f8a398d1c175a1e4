"""Transfers in the ACD core: an agent hands a connected call on, and the call keeps its one
entry (its id, record, priority and place by first arrival).

Place: a part of `ivr.runtime.acd.core.AcdCore` (mixed in), kept apart to keep each module
small: `requeue` (to a queue), `transfer_to_agent` (blind, to a named agent), `consult` ...
`complete_transfer` (warm, to a second agent), `release_agent` (to someone outside the ACD).
Each agent's part ends with wrap-up; a consulted agent goes back to the state it had. A
request that cannot be carried out raises `TransferError` and changes nothing. Like the
rest of the core: no trio, no clock; every method takes `now` and returns `Decision`s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ivr.runtime.acd.config import AcdSettings
from ivr.runtime.acd.errors import TransferError
from ivr.runtime.acd.events import (
    AcdEvent,
    AgentLeft,
    AgentPart,
    AgentState,
    CallConnected,
    CallOffered,
)
from ivr.runtime.acd.model import Agent, CallState, Consult, Decision, Evicted, Offer, QueuedCall
from ivr.runtime.acd.stats import QueueCounters

_CAN_TAKE_TRANSFER = {AgentState.READY, AgentState.NOT_READY}
_RING_FAILURES: set[AgentPart] = {"no_answer", "busy", "failed"}


class Handovers:
    if TYPE_CHECKING:  # what the core provides
        settings: AcdSettings
        calls: dict[str, QueuedCall]
        agents: dict[str, Agent]
        _emit: Callable[[AcdEvent], None]

        def _queue(self, name: str) -> tuple[QueueCounters, dict[str, QueuedCall]]: ...
        def _enter(self, call: QueuedCall, now: float) -> None: ...
        def _route_call(self, call: QueuedCall, now: float) -> list[Decision]: ...
        def _offer(self, call: QueuedCall, agent: Agent, now: float) -> Offer: ...
        def _after_call(self, agent: Agent, queue: str, now: float) -> list[Decision]: ...
        def _become_ready(self, agent: Agent, now: float, *, keep_idle: bool = False) -> list[Decision]: ...
        def _refusal(self, queue: str, skills: frozenset[str]) -> Evicted | None: ...
        def _set_state(
            self,
            agent: Agent,
            state: AgentState,
            now: float,
            *,
            reason: str | None = None,
            until: float | None = None,
        ) -> None: ...

    def requeue(self, call_id: str, queue: str, now: float) -> list[Decision]:
        """Hand a connected (or external) call to `queue`: its agent goes to wrap-up, the
        call waits there with its priority and its place by first arrival. Back in its own
        queue it keeps its skills, else it needs the new queue's. `TransferError` (and no
        change at all) when nobody logged in has those skills or the queue is full."""
        call = self.calls.get(call_id)
        if call is None or call.state not in (CallState.CONNECTED, CallState.EXTERNAL):
            raise TransferError(f"call {call_id} is not talking; only a connected call can be transferred")
        skills = call.skills if queue == call.queue else frozenset(self.settings.queue(queue).skills)
        refused = self._refusal(queue, skills)
        if refused == "overflow":
            raise TransferError(f"queue {queue} is full; try another queue or later")
        if refused == "no_agents":
            raise TransferError(f"nobody who serves queue {queue} is logged in")
        # The agents leave the call first (their desktops hear it before anyone is offered
        # it), then the call joins the queue, then the agents are free: so they compete for
        # it fairly and do not get the caller straight back.
        owner, consult, before = call.agent_id, call.consult, (call.queue, call.answered_at)
        call.consult, call.agent_id, call.answered_at = None, None, None
        if owner is not None:
            self._part_over(owner, call.call_id, *before, now)
        if consult is not None:
            self.agents[consult.agent_id].call_id = None
            self._emit(AgentLeft(now, call.call_id, consult.agent_id, before[0], "consult_ended"))
        call.queue, call.skills, call.state = queue, skills, CallState.WAITING
        call.screen = {**call.screen, "queue": queue}
        self._enter(call, now)
        decisions = self._route_call(call, now)
        if consult is not None:
            decisions += self._consult_back(consult, now, "consult_ended")
        if owner is not None:
            decisions += self._after_call(self.agents[owner], before[0], now)
        return decisions

    def transfer_to_agent(self, call_id: str, agent_id: str, now: float) -> list[Decision]:
        """A blind transfer to a named agent (ready or not ready): the call's agent goes to
        wrap-up and the target's phone rings (an `Offer`). If it is not answered, the call
        goes back to its queue."""
        call = self._connected(call_id)
        target = self._transfer_target(call, agent_id)
        by = call.agent_id
        decisions = self._release_owner(call, now)
        call.offer, call.offered_by = "transfer", by
        return [self._offer(call, target, now), *decisions]

    def release_agent(self, call_id: str, now: float) -> list[Decision]:
        """The call's agent hands the caller to someone outside the ACD (a number): the agent
        goes to wrap-up; the call stays `external` until it ends (or is requeued)."""
        call = self._connected(call_id)
        if call.consult is not None:
            raise TransferError("end or complete the consultation first")
        decisions = self._release_owner(call, now)
        call.state = CallState.EXTERNAL
        return decisions

    def consult(self, call_id: str, agent_id: str, now: float) -> None:
        """The call's agent asks `agent_id` (ready or not ready) for a consultation: that
        agent is reserved and rings; the caller stays with the call's agent (on hold)."""
        call = self._connected(call_id)
        agent = self._transfer_target(call, agent_id)
        call.consult = Consult(agent_id, agent.state, agent.reason)
        agent.call_id = call_id
        self._set_state(agent, AgentState.RESERVED, now)
        self._emit(CallOffered(now, call_id, agent_id, call.queue, call.screen, "consult", call.agent_id))

    def consult_answered(self, call_id: str, now: float) -> None:
        call = self._connected(call_id)
        if call.consult is None or call.consult.talking:
            raise TransferError(f"call {call_id} has no consultation ringing")
        call.consult.talking = True
        self._set_state(self.agents[call.consult.agent_id], AgentState.ON_CALL, now)
        self._emit(CallConnected(now, call_id, call.consult.agent_id, call.queue, "consult"))

    def consult_ended(self, call_id: str, now: float, outcome: AgentPart = "consult_ended") -> list[Decision]:
        """The consulted agent leaves (ring failures: `no_answer`, `busy`, `failed`)."""
        return self._end_consult(self._connected(call_id), now, outcome)

    def complete_transfer(self, call_id: str, now: float) -> list[Decision]:
        """The consulted agent takes the call over; the call's agent goes to wrap-up."""
        call = self._connected(call_id)
        consult = call.consult
        if consult is None or not consult.talking:
            raise TransferError("the consulted agent has not answered yet")
        by = call.agent_id
        decisions = self._release_owner(call, now)
        call.consult, call.agent_id, call.answered_at = None, consult.agent_id, now
        call.offer, call.offered_by = "transfer", by
        self._emit(CallConnected(now, call_id, consult.agent_id, call.queue, "transfer"))
        return decisions

    # -- agents' parts in a call ------------------------------------------------------------
    def _release_owner(self, call: QueuedCall, now: float) -> list[Decision]:
        """The call's agent hands it on."""
        owner, queue, answered_at = str(call.agent_id), call.queue, call.answered_at
        call.agent_id, call.answered_at = None, None
        return self._release(owner, call.call_id, queue, answered_at, now)

    def _release(
        self, agent_id: str, call_id: str, queue: str, answered_at: float | None, now: float
    ) -> list[Decision]:
        """An agent's part in a call is over: its handle time counts, then wrap-up."""
        self._part_over(agent_id, call_id, queue, answered_at, now)
        return self._after_call(self.agents[agent_id], queue, now)

    def _part_over(
        self, agent_id: str, call_id: str, queue: str, answered_at: float | None, now: float
    ) -> None:
        agent = self.agents[agent_id]
        self._queue(queue)[0].record_handle_time(now - (answered_at or now))
        agent.calls_handled += 1
        agent.call_id = None
        self._emit(AgentLeft(now, call_id, agent_id, queue, "transferred"))

    def _end_consult(self, call: QueuedCall, now: float, outcome: AgentPart) -> list[Decision]:
        consult, call.consult = call.consult, None
        return [] if consult is None else self._consult_over(consult, call, now, outcome)

    def _consult_over(
        self, consult: Consult, call: QueuedCall, now: float, outcome: AgentPart
    ) -> list[Decision]:
        """The consulted agent leaves: not ready after a ring failure, else back as it was."""
        self.agents[consult.agent_id].call_id = None
        self._emit(AgentLeft(now, call.call_id, consult.agent_id, call.queue, outcome))
        return self._consult_back(consult, now, outcome)

    def _consult_back(self, consult: Consult, now: float, outcome: AgentPart) -> list[Decision]:
        agent = self.agents[consult.agent_id]
        if outcome in _RING_FAILURES:
            agent.no_answers += 1
            self._set_state(agent, AgentState.NOT_READY, now, reason="no_answer")
            return []
        if agent.after_call is not None or consult.previous is not AgentState.READY:
            reason = agent.after_call or consult.reason or None
            agent.after_call = None
            self._set_state(agent, AgentState.NOT_READY, now, reason=reason)
            return []
        return self._become_ready(agent, now)

    def _transfer_target(self, call: QueuedCall, agent_id: str) -> Agent:
        if agent_id == call.agent_id:
            raise TransferError("the call is yours already; pick another agent")
        if call.consult is not None:
            raise TransferError("end or complete the consultation first")
        agent = self.agents.get(agent_id)
        if agent is None:
            raise TransferError(f"agent {agent_id} is not logged in")
        if agent.state not in _CAN_TAKE_TRANSFER:
            raise TransferError(f"agent {agent_id} is busy ({agent.state.value})")
        return agent

    def _connected(self, call_id: str) -> QueuedCall:
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.CONNECTED or call.agent_id is None:
            raise TransferError(f"call {call_id} is not talking to an agent")
        return call
