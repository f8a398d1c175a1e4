"""The inputs of a report as plain rows, the query, and how time is cut into intervals.

Place: the pure core's vocabulary (`facts`, `figures`); `sqlite` fills these rows from the
records database and the agents' journals. Times are aware datetimes (UTC in storage);
intervals are cut in the report's time zone, so a Shanghai day is a Shanghai day.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Interval = Literal["15m", "hour", "day"]
INTERVALS: dict[Interval, timedelta] = {
    "15m": timedelta(minutes=15),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
By = Literal["tenant", "queue", "flow", "agent", "node", "campaign", "channel"]
DEFAULT_SERVICE_LEVEL = 20.0  # seconds, as the ACD's own default threshold


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """What to report: [start, end), cut into `interval`s of `zone`, grouped `by`.
    `service_levels` maps a queue to its threshold in seconds (others: `service_level`)."""

    start: datetime
    end: datetime
    interval: Interval = "hour"
    by: By = "queue"
    tenant: str | None = None
    zone: str = "UTC"
    service_level: float = DEFAULT_SERVICE_LEVEL
    service_levels: Mapping[str, float] = field(default_factory=dict)
    flow: str | None = None  # with by="node": only this flow's nodes

    def threshold(self, queue: str) -> float:
        return self.service_levels.get(queue, self.service_level)


@dataclass(frozen=True, slots=True)
class CallRow:
    call_id: str
    tenant: str
    flow: str
    started_at: datetime
    ended_at: datetime | None
    how: str | None
    channel: str = "phone"  # phone, outbound, chat, sms (docs/channels.md)


@dataclass(frozen=True, slots=True)
class EventRow:
    """One line of a call's record (`seq`: the order written)."""

    call_id: str
    seq: int
    kind: str
    at: datetime
    node: str | None
    detail: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class SessionRow:
    """An agent's login-to-logout span (`logout_at` None: still logged in)."""

    tenant: str
    agent: str
    login_at: datetime
    logout_at: datetime | None


@dataclass(frozen=True, slots=True)
class StateRow:
    """An agent's state change from the agents' journal (ready, not_ready, on_call, ...)."""

    tenant: str
    agent: str
    at: datetime
    state: str


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One outbound attempt from a campaign store (`outcome` None: still under way)."""

    tenant: str
    campaign: str
    started_at: datetime
    outcome: str | None


@dataclass(frozen=True, slots=True)
class OptOutRow:
    """A contact a campaign skipped because the number is on the do-not-call list."""

    tenant: str
    campaign: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Inputs:
    calls: list[CallRow]
    events: list[EventRow]  # of those calls, in `seq` order
    sessions: list[SessionRow] = field(default_factory=list)
    states: list[StateRow] = field(default_factory=list)  # in the order written, per tenant
    attempts: list[AttemptRow] = field(default_factory=list)  # --by campaign
    opt_outs: list[OptOutRow] = field(default_factory=list)


def bucket(at: datetime, interval: Interval, zone: ZoneInfo) -> datetime:
    """The start (in `zone`) of the interval holding `at`."""
    local = at.astimezone(zone)
    if interval == "day":
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    return local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)


def split(
    start: datetime, end: datetime, interval: Interval, zone: ZoneInfo
) -> Iterator[tuple[datetime, float]]:
    """A span cut at interval boundaries: (interval start, seconds of the span in it).
    Seconds are counted in UTC, so a day when the clocks change has 23 or 25 hours."""
    step = INTERVALS[interval]
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    while start < end:
        first = bucket(start, interval, zone)
        following = _next_day(first, zone) if interval == "day" else first.astimezone(UTC) + step
        cut = min(end, following)
        yield first, (cut - start).total_seconds()
        start = cut


def _next_day(first: datetime, zone: ZoneInfo) -> datetime:
    """The next local midnight after `first` (a local midnight), in UTC."""
    day = (first.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=zone)
    return day.astimezone(UTC)
