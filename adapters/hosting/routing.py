"""Stand-in ports for a hosted service that lacks a piece.

Place: wired by `server` where the real adapter is not available. `NoAgents` answers every
`enqueue` with "no_agents" (the flow takes its `on_no_agents` edge: "all agents are busy")
when the server has no agents file (else the ACD, `ivr.runtime.acd`, routes the calls);
`NoOperations` serves a project whose service declares no data operations.
"""

from __future__ import annotations

from collections.abc import Mapping

from ivr.runtime.ports import CallLeg, OperationError, QueueOutcome, QueueRequest


class NoAgents:
    """`AgentRouting` with nobody logged in."""

    async def enqueue(self, leg: CallLeg, request: QueueRequest) -> QueueOutcome:
        return "no_agents"


class NoOperations:
    """`DataOperations` for a service without any: every call is an `OperationError`."""

    async def invoke(self, name: str, args: Mapping[str, object]) -> object:
        raise OperationError(f"operation {name!r} is not declared in the service")
