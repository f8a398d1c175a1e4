"""runtime.acd: the automatic call distributor behind the `enqueue` node.

`core` is a synchronous, deterministic model of queues and agents (indexes in `index`);
`service` drives it on the trio clock as the `AgentRouting` port and the agent API, and
reaches agents through the `AgentConnector` port. See docs/acd.md.
"""

from ivr.runtime.acd.config import AcdSettings, Position, QueueConfig, english_announcement, queue_configs
from ivr.runtime.acd.core import AcdCore
from ivr.runtime.acd.errors import AgentError, AgentStateError, SeatsFull, TransferError, UnknownAgent
from ivr.runtime.acd.events import (
    AcdEvent,
    AgentLeft,
    AgentPart,
    AgentState,
    AgentStateChanged,
    CallConnected,
    CallFinished,
    CallOffered,
    EventHub,
    OfferKind,
    QueueChanged,
)
from ivr.runtime.acd.model import Decision, Eviction, Offer, Wake
from ivr.runtime.acd.service import Acd, open_acd
from ivr.runtime.acd.stats import AcdStatistics, AgentStatistics, QueueStatistics

__all__ = [
    "Acd",
    "AcdCore",
    "AcdEvent",
    "AcdSettings",
    "AcdStatistics",
    "AgentError",
    "AgentLeft",
    "AgentPart",
    "AgentState",
    "AgentStateChanged",
    "AgentStateError",
    "AgentStatistics",
    "CallConnected",
    "CallFinished",
    "CallOffered",
    "Decision",
    "EventHub",
    "Eviction",
    "Offer",
    "OfferKind",
    "Position",
    "QueueChanged",
    "QueueConfig",
    "QueueStatistics",
    "SeatsFull",
    "TransferError",
    "UnknownAgent",
    "Wake",
    "english_announcement",
    "open_acd",
    "queue_configs",
]
