"""Calendars: is a service calendar open, closed or on holiday at a given instant?

Pure functions over `CalendarDecl`, evaluated in the calendar's own time zone (zoneinfo),
so "09:30" means half past nine in Shanghai whatever the server's zone. Opening intervals
include their start and exclude their end.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from ivr.flowlang.ir import CalendarDecl

OPEN = "open"
CLOSED = "closed"
HOLIDAY = "holiday"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def status(calendar: CalendarDecl, at: datetime) -> str:
    """ "open", "closed" or "holiday" for the aware datetime `at`."""
    local = at.astimezone(ZoneInfo(calendar.timezone))
    if local.date().isoformat() in calendar.holidays:
        return HOLIDAY
    now = local.time().replace(tzinfo=None)
    for start, end in calendar.hours.get(WEEKDAYS[local.weekday()], ()):
        if time.fromisoformat(start) <= now < _end(end):
            return OPEN
    return CLOSED


def _end(text: str) -> time:
    """ "24:00" closes at midnight: the last instant of the day."""
    return time.max if text in ("24:00", "24:00:00") else time.fromisoformat(text)
