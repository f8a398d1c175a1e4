"""Metering: what each tenant used, per day, computed from call records (a pure core).

Place: under `ivr report usage` and `GET /usage`; the storage adapter reads the inputs
(`ivr.adapters.storage.usage`), this module only adds them up, so the same figures come out
of a running server and of a copy of its database, and tests can hold the arithmetic to
hand-made cases and random ones.

The rules, per tenant and per day of the report's time zone:

- **calls**: calls that started that day (a call over midnight belongs to its first day);
- **IVR minutes**: each of those calls' length less its agent talk (a call still up counts
  up to `now`);
- **agent talk minutes**: from `agent_connected` to `agent_call_ended` on those calls;
- **agent seat-hours**: agents logged in, split at midnight (a session still open counts up
  to `now`);
- **recordings**: how many were stored that day and their length in minutes;
- **outbound minutes**: 0 until the server places calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

MINUTE = Decimal(60)
HOUR = Decimal(3600)


@dataclass(frozen=True)
class CallUsage:
    tenant: str
    started: datetime
    ended: datetime | None
    talk: tuple[tuple[datetime, datetime | None], ...] = ()  # agent connected -> ended (None: still)


@dataclass(frozen=True)
class SessionUsage:
    tenant: str
    agent: str
    start: datetime
    end: datetime | None  # None: still logged in


@dataclass(frozen=True)
class RecordingUsage:
    tenant: str
    stored: datetime
    seconds: Decimal


@dataclass
class DayUsage:
    """One tenant's use on one day; seconds are exact, the report rounds."""

    tenant: str
    day: date
    calls: int = 0
    ivr_seconds: Decimal = Decimal(0)
    talk_seconds: Decimal = Decimal(0)
    seat_seconds: Decimal = Decimal(0)
    recordings: int = 0
    recording_seconds: Decimal = Decimal(0)
    outbound_seconds: Decimal = Decimal(0)

    def row(self) -> dict[str, object]:
        """The report's row: minutes and hours to one decimal place."""
        return {
            "tenant": self.tenant,
            "day": self.day.isoformat(),
            "calls": self.calls,
            "ivr_minutes": _round(self.ivr_seconds / MINUTE),
            "agent_talk_minutes": _round(self.talk_seconds / MINUTE),
            "agent_seat_hours": _round(self.seat_seconds / HOUR),
            "recordings": self.recordings,
            "recording_minutes": _round(self.recording_seconds / MINUTE),
            "outbound_minutes": _round(self.outbound_seconds / MINUTE),
        }


COLUMNS = (
    "tenant", "day", "calls", "ivr_minutes", "agent_talk_minutes", "agent_seat_hours",
    "recordings", "recording_minutes", "outbound_minutes",
)  # fmt: skip


@dataclass
class _Days:
    zone: ZoneInfo
    first: date
    last: date  # exclusive
    table: dict[tuple[str, date], DayUsage] = field(default_factory=dict)

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def at(self, tenant: str, day: date) -> DayUsage | None:
        if not self.first <= day < self.last:
            return None
        if (tenant, day) not in self.table:
            self.table[(tenant, day)] = DayUsage(tenant, day)
        return self.table[(tenant, day)]

    def midnight_after(self, moment: datetime) -> datetime:
        day = self.day_of(moment) + timedelta(days=1)
        return datetime.combine(day, time(0), self.zone)


def usage(
    calls: Iterable[CallUsage],
    sessions: Iterable[SessionUsage],
    recordings: Iterable[RecordingUsage],
    *,
    zone: str,
    first: date,
    last: date,
    now: datetime,
) -> list[DayUsage]:
    """Per tenant and day in [first, last), sorted by tenant then day (see the module)."""
    days = _Days(ZoneInfo(zone), first, last)
    for call in calls:
        _add_call(days, call, now)
    for session in sessions:
        _add_session(days, session, now)
    for recording in recordings:
        row = days.at(recording.tenant, days.day_of(recording.stored))
        if row is not None:
            row.recordings += 1
            row.recording_seconds += recording.seconds
    return [days.table[key] for key in sorted(days.table)]


def _add_call(days: _Days, call: CallUsage, now: datetime) -> None:
    row = days.at(call.tenant, days.day_of(call.started))
    if row is None:
        return
    end = call.ended or now
    length = _seconds(call.started, end)
    talk = sum((_seconds(max(a, call.started), min(b or end, end)) for a, b in call.talk), Decimal(0))
    talk = min(talk, length)
    row.calls += 1
    row.talk_seconds += talk
    row.ivr_seconds += length - talk


def _add_session(days: _Days, session: SessionUsage, now: datetime) -> None:
    start, end = session.start, session.end or now
    while start < end:
        piece_end = min(end, days.midnight_after(start))
        row = days.at(session.tenant, days.day_of(start))
        if row is not None:
            row.seat_seconds += _seconds(start, piece_end)
        start = piece_end


def _seconds(a: datetime, b: datetime) -> Decimal:
    delta = b - a
    return max(Decimal(0), Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 10**6)


def _round(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"))


def totals(rows: Iterable[DayUsage]) -> dict[str, DayUsage]:
    """Per tenant, the sum over days (the report's last lines)."""
    out: dict[str, DayUsage] = {}
    for row in rows:
        total = out.setdefault(row.tenant, DayUsage(row.tenant, row.day))
        total.calls += row.calls
        total.ivr_seconds += row.ivr_seconds
        total.talk_seconds += row.talk_seconds
        total.seat_seconds += row.seat_seconds
        total.recordings += row.recordings
        total.recording_seconds += row.recording_seconds
        total.outbound_seconds += row.outbound_seconds
    return out
