"""Exceptions of the ACD's agent API (`ivr.runtime.acd`): mistakes of the caller (the CTI
server), never of a flow. The message says what the agent must do first."""

from __future__ import annotations


class AgentError(Exception):
    """Base class: an agent request the ACD cannot carry out."""


class UnknownAgent(AgentError):
    """The agent is not logged in: call `login` first."""


class AgentStateError(AgentError):
    """The request does not fit the agent's state (for example logging out during a call:
    finish the call first)."""


class SeatsFull(AgentError):
    """The seat quota (`AcdSettings.max_agents`) is reached: another agent must log out first."""


class TransferError(AgentError):
    """A transfer or consultation the ACD cannot carry out (no agent for the queue, the
    queue is full, the target is busy); nothing about the call changed."""
