"""ACD statistics: the counters the core keeps per queue, and the frozen snapshots that
`statistics()` returns (trio's naming) for wallboards, the CTI server and tests.

Definitions: `waiting` counts calls in the queue not yet answered (including one ringing an
agent); `service_level` is the percentage of answered calls answered within the queue's
threshold (None before the first answer); an abandoned call is one whose caller hung up
before an agent answered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.runtime.acd.events import AgentState


@dataclass(frozen=True, slots=True)
class QueueStatistics:
    name: str
    waiting: int
    longest_wait: float
    entered: int
    answered: int
    answered_within_threshold: int
    abandoned: int
    timed_out: int
    no_agents: int  # turned away at entry, or when the last capable agent logged out
    overflowed: int
    service_level: float | None
    average_wait: float | None  # over answered calls
    average_handle_time: float | None  # over the recent window
    callbacks: int = 0  # callers who pressed the callback key and kept their place
    callbacks_failed: int = 0  # kept places given up (also counted in `abandoned`)


@dataclass(frozen=True, slots=True)
class AgentStatistics:
    agent_id: str
    address: str
    state: AgentState
    skills: Mapping[str, int]
    calls_handled: int
    no_answers: int
    idle_since: float  # when the agent last became ready
    call_id: str | None
    reason: str | None = None  # why not ready
    after_call: str | None = None  # not ready (with this reason) once the call ends
    wrap_up_until: float | None = None  # trio clock


@dataclass(frozen=True, slots=True)
class AcdStatistics:
    queues: Mapping[str, QueueStatistics]
    agents: Mapping[str, AgentStatistics]


@dataclass(slots=True)
class QueueCounters:
    """Running counters for one queue (mutated by the core only)."""

    window: int = 20
    entered: int = 0
    answered: int = 0
    answered_within_threshold: int = 0
    abandoned: int = 0
    timed_out: int = 0
    evicted: int = 0  # entered, then "no_agents" when the last capable agent left
    rejected_no_agents: int = 0
    overflowed: int = 0
    callbacks: int = 0  # callers who pressed the callback key and kept their place
    callbacks_failed: int = 0  # kept places given up after the last unanswered callback
    total_wait: float = 0.0
    handle_times: deque[float] = field(default_factory=deque)

    def record_handle_time(self, seconds: float) -> None:
        self.handle_times.append(seconds)
        while len(self.handle_times) > self.window:
            self.handle_times.popleft()

    def average_handle_time(self) -> float | None:
        if not self.handle_times:
            return None
        return sum(self.handle_times) / len(self.handle_times)

    def left(self) -> int:
        """Calls that entered and are no longer waiting."""
        return self.answered + self.abandoned + self.timed_out + self.evicted

    def snapshot(self, name: str, waiting: int, longest_wait: float) -> QueueStatistics:
        level = None
        if self.answered:
            level = 100.0 * self.answered_within_threshold / self.answered
        return QueueStatistics(
            name=name,
            waiting=waiting,
            longest_wait=longest_wait,
            entered=self.entered,
            answered=self.answered,
            answered_within_threshold=self.answered_within_threshold,
            abandoned=self.abandoned,
            timed_out=self.timed_out,
            no_agents=self.evicted + self.rejected_no_agents,
            overflowed=self.overflowed,
            service_level=level,
            average_wait=self.total_wait / self.answered if self.answered else None,
            average_handle_time=self.average_handle_time(),
            callbacks=self.callbacks,
            callbacks_failed=self.callbacks_failed,
        )
