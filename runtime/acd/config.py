"""ACD configuration: one `QueueConfig` per named queue, plus the settings shared by all.

Pure data, read by the synchronous core (`ivr.runtime.acd.core`) and the trio layer
(`ivr.runtime.acd.service`). `queue_configs` builds them from the service's queue
declarations (`ivr.flowlang.ir.QueueDecl`), which only name the required skills.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ivr.flowlang.ir import QueueDecl
from ivr.runtime.ports import QueueRequest, SpokenPrompt


@dataclass(frozen=True, slots=True)
class Position:
    """What an announcement tells a waiting caller: the place in the queue (1 = next) and the
    expected wait in whole seconds."""

    request: QueueRequest
    position: int
    expected_wait: int


def english_announcement(position: Position) -> SpokenPrompt:
    """The default announcement. Flows in other languages configure their own."""
    minutes = max(1, round(position.expected_wait / 60))
    text = (
        f"You are number {position.position} in the queue. "
        f"Your expected wait is about {minutes} minute{'s' if minutes > 1 else ''}."
    )
    return SpokenPrompt(text, "en")


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """One named queue. Times are seconds on the trio clock.

    `skills` are required on top of the `enqueue` node's own skills. `capacity` bounds the
    calls in the queue (waiting or ringing an agent): the next one gets "overflow".
    `max_wait` applies when the node gives none. `music` is an audio file played between
    announcements (None: the caller waits in silence). `wrap_up` keeps the agent from new
    offers after each call. A request whose priority is at least `vip_priority` goes to the
    most skilled ready agent rather than the longest idle one.
    """

    name: str
    skills: tuple[str, ...] = ()
    capacity: int | None = None
    max_wait: float | None = None
    announce_every: float | None = 30.0
    music: str | None = None
    wrap_up: float = 10.0
    ring_timeout: float = 15.0
    service_level_threshold: float = 20.0
    default_handle_time: float = 120.0
    vip_priority: int = 10
    announcement: Callable[[Position], SpokenPrompt] = english_announcement


@dataclass(frozen=True, slots=True)
class AcdSettings:
    """Settings for the whole ACD.

    `no_answer_cooldown`: after an agent lets an offer ring out, the agent goes `not_ready`;
    with a cooldown (seconds) the ACD makes the agent ready again by itself after it.
    `handle_time_window`: how many recent calls the average handle time is taken over.
    `max_agents`: the seat quota, agents logged in at once (None: no limit).
    `callback_lead`: seconds before an agent's wrap-up ends at which a kept place (a caller
    to call back, docs/acd.md) may take the agent, so the customer is ringing as the agent
    is free (None: only agents free now).
    """

    queues: Mapping[str, QueueConfig] = field(default_factory=dict)
    no_answer_cooldown: float | None = None
    handle_time_window: int = 20
    max_agents: int | None = None
    callback_lead: float | None = None

    def queue(self, name: str) -> QueueConfig:
        """The named queue's configuration (defaults for a queue nobody configured)."""
        return self.queues.get(name) or QueueConfig(name)


def queue_configs(declared: Mapping[str, QueueDecl], **defaults: object) -> dict[str, QueueConfig]:
    """`QueueConfig`s for the service's declared queues; `defaults` are `QueueConfig` fields
    shared by all (for example `music="audio/hold.wav"`)."""
    return {
        name: QueueConfig(name, decl.skills, **defaults)  # type: ignore[arg-type]
        for name, decl in declared.items()
    }
