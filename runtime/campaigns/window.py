"""Calling windows: may a contact be called now, in their own local time; if not, when next.

Place: used by the campaign core for each time zone its contacts live in. A window is a
service calendar (days, hours, holidays) read in the *callee's* zone: "09:00-20:00" means
nine to eight where the phone rings, whatever the server's or the calendar's own zone.
Without a calendar a campaign may call at any time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ivr.flowlang.ir import CalendarDecl
from ivr.runtime.calendars import OPEN, WEEKDAYS, status

SEARCH_DAYS = 15  # a window closed for longer (a long holiday) is looked up again later


class Window:
    """The calendar (or none) of a campaign, in one time zone."""

    def __init__(self, calendar: CalendarDecl | None, zone: str) -> None:
        self.zone = zone
        self.calendar = replace(calendar, timezone=zone) if calendar is not None else None
        self._tz = ZoneInfo(zone)

    def is_open(self, at: datetime) -> bool:
        return self.calendar is None or status(self.calendar, at) == OPEN

    def next_open(self, after: datetime) -> datetime | None:
        """The first instant at or after `after` when the window is open; None if it does
        not open within `SEARCH_DAYS` days."""
        if self.is_open(after):
            return after
        assert self.calendar is not None
        local = after.astimezone(self._tz)
        for offset in range(SEARCH_DAYS + 1):
            day = local.date() + timedelta(days=offset)
            if day.isoformat() in self.calendar.holidays:
                continue
            for start, _ in sorted(self.calendar.hours.get(WEEKDAYS[day.weekday()], ())):
                candidate = _at(day, start, self._tz)
                if candidate >= after and self.is_open(candidate):
                    return candidate
        return None


def _at(day: date, clock: str, tz: ZoneInfo) -> datetime:
    hours, minutes = (int(part) for part in clock.split(":"))
    if hours == 24:
        return datetime.combine(day + timedelta(days=1), time(0, 0), tz)
    return datetime.combine(day, time(hours, minutes), tz)
