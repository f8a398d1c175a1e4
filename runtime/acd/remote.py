"""Calls of a shared center that reach this instance's agents (docs/cluster.md, "Agents
and queues across instances").

Place: a part of `ivr.runtime.acd.core.AcdCore` (mixed in). With a shared ACD
(`ivr.runtime.acd.shared_acd.SharedAcd`) the decision "which agent takes which call" is
taken in the shared state, and the call is held by whichever instance it arrived at. The
local core of the instance hosting the agent's desktop only follows that call: the agent
is reserved while its phone rings, on call while it talks, then goes through the queue's
wrap-up (or not ready, if the agent asked) as after a local call, and the desktop gets the
same events. The core never routes such a call: it has no entry in `calls`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ivr.runtime.acd.config import AcdSettings
from ivr.runtime.acd.events import (
    AcdEvent,
    AgentLeft,
    AgentPart,
    AgentState,
    CallConnected,
    CallFinished,
    CallOffered,
)
from ivr.runtime.acd.model import Agent, Decision, QueuedCall, Wake
from ivr.runtime.acd.stats import QueueCounters


@dataclass(slots=True)
class RemoteCall:
    """A shared call one of this instance's agents is offered or talks with."""

    queue: str
    remote: bool  # held by another instance (its journal notes it)
    answered_at: float | None = None


class RemoteCalls:
    if TYPE_CHECKING:  # what the core provides
        settings: AcdSettings
        agents: dict[str, Agent]
        remote_calls: dict[str, RemoteCall]
        _emit: Callable[[AcdEvent], None]

        def _queue(self, name: str) -> tuple[QueueCounters, dict[str, QueuedCall]]: ...
        def _after_call(self, agent: Agent, queue: str, now: float) -> list[Decision]: ...
        def _become_ready(self, agent: Agent, now: float, *, keep_idle: bool = False) -> list[Decision]: ...
        def _set_state(
            self,
            agent: Agent,
            state: AgentState,
            now: float,
            *,
            reason: str | None = None,
            until: float | None = None,
        ) -> None: ...

    def remote_offered(
        self,
        call_id: str,
        agent_id: str,
        queue: str,
        screen: Mapping[str, object],
        now: float,
        *,
        remote: bool,
    ) -> None:
        """The shared state reserved the agent for `call_id`: its phone rings. The offer
        stands even if the desktop went not ready meanwhile (the shared step came first)."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.call_id is not None:
            return  # not here, or already following it (the same offer twice)
        agent.call_id = call_id
        self.remote_calls[call_id] = RemoteCall(queue, remote)
        self._set_state(agent, AgentState.RESERVED, now)
        self._emit(CallOffered(now, call_id, agent_id, queue, screen))

    def remote_connected(self, call_id: str, agent_id: str, now: float) -> None:
        agent, call = self._following(call_id, agent_id)
        if agent is None or call is None or agent.state is not AgentState.RESERVED:
            return
        call.answered_at = now
        self._set_state(agent, AgentState.ON_CALL, now)
        self._emit(CallConnected(now, call_id, agent_id, call.queue, remote=call.remote))

    def remote_not_answered(
        self, call_id: str, agent_id: str, outcome: AgentPart, now: float
    ) -> list[Decision]:
        """The agent's phone did not answer (busy, failed): not ready, as after a local ring."""
        agent, call = self._following(call_id, agent_id)
        if agent is None or call is None:
            return []
        del self.remote_calls[call_id]
        agent.call_id, agent.no_answers = None, agent.no_answers + 1
        self._set_state(agent, AgentState.NOT_READY, now, reason="no_answer")
        self._emit(AgentLeft(now, call_id, agent_id, call.queue, outcome, remote=call.remote))
        if self.settings.no_answer_cooldown is None:
            return []
        return [Wake(agent_id, agent.epoch, now + self.settings.no_answer_cooldown)]

    def remote_abandoned(self, call_id: str, agent_id: str, now: float) -> list[Decision]:
        """The caller hung up while the agent's phone rang: ready again, in its old place."""
        agent, call = self._following(call_id, agent_id)
        if agent is None or call is None:
            return []
        del self.remote_calls[call_id]
        agent.call_id = None
        self._emit(CallFinished(now, call_id, call.queue, "abandoned", remote=call.remote))
        return self._become_ready(agent, now, keep_idle=True)

    def remote_finished(self, call_id: str, agent_id: str, now: float) -> list[Decision]:
        """The conversation ended: the queue's wrap-up, then ready (or not ready if asked)."""
        agent, call = self._following(call_id, agent_id)
        if agent is None or call is None:
            return []
        del self.remote_calls[call_id]
        agent.call_id = None
        self._emit(CallFinished(now, call_id, call.queue, "completed", agent_id, remote=call.remote))
        if call.answered_at is not None:
            self._queue(call.queue)[0].record_handle_time(now - call.answered_at)
            agent.calls_handled += 1
        return self._after_call(agent, call.queue, now)

    def _following(self, call_id: str, agent_id: str) -> tuple[Agent | None, RemoteCall | None]:
        agent = self.agents.get(agent_id)
        if agent is None or agent.call_id != call_id:
            return None, None
        return agent, self.remote_calls.get(call_id)
