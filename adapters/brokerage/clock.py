"""The trading calendar of the Shanghai and Shenzhen exchanges, in Asia/Shanghai time.

Every time-dependent operation takes an injectable `now` so tests pin the clock; `None`
means the wall clock. Weekdays are trading days unless they are exchange holidays.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Weekday exchange closures for 2026 (State Council holiday schedule; the exchanges stay
# closed on the weekend make-up working days too, so those need no entry).
HOLIDAYS: frozenset[date] = frozenset(
    date.fromisoformat(d)
    for d in (
        "2026-01-01", "2026-01-02",
        "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23",
        "2026-04-06",
        "2026-05-01", "2026-05-04", "2026-05-05",
        "2026-06-19",
        "2026-09-25",
        "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07",
    )
)  # fmt: skip

TRADING_SESSIONS: tuple[tuple[time, time], ...] = (
    (time(9, 30), time(11, 30)),
    (time(13, 0), time(15, 0)),
)
TRANSFER_WINDOW: tuple[time, time] = (time(9, 0), time(16, 0))
# Demo switch: with IVR_BROKERAGE_ALWAYS_OPEN=1 the market and the transfer window are open
# whenever the wall clock is used (an injected `now` still follows the real calendar).
ALWAYS_OPEN_ENV = "IVR_BROKERAGE_ALWAYS_OPEN"


def _demo_open(now: datetime | None) -> bool:
    return now is None and os.environ.get(ALWAYS_OPEN_ENV) == "1"


def shanghai_now(now: datetime | None = None) -> datetime:
    """`now` (or the wall clock) as an aware datetime in Asia/Shanghai."""
    if now is None:
        return datetime.now(SHANGHAI)
    if now.tzinfo is None:
        return now.replace(tzinfo=SHANGHAI)
    return now.astimezone(SHANGHAI)


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def previous_trading_day(day: date) -> date:
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def next_trading_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def trading_days_before(day: date, count: int) -> list[date]:
    """The `count` trading days strictly before `day`, oldest first."""
    days: list[date] = []
    while len(days) < count:
        day = previous_trading_day(day)
        days.append(day)
    days.reverse()
    return days


def in_trading_session(now: datetime | None = None) -> bool:
    """True during continuous trading: 9:30-11:30 and 13:00-15:00 on a trading day."""
    if _demo_open(now):
        return True
    local = shanghai_now(now)
    if not is_trading_day(local.date()):
        return False
    moment = local.time()
    return any(start <= moment < end for start, end in TRADING_SESSIONS)


def in_transfer_window(now: datetime | None = None) -> bool:
    """Bank-brokerage transfers run 9:00-16:00 on trading days."""
    if _demo_open(now):
        return True
    local = shanghai_now(now)
    start, end = TRANSFER_WINDOW
    return is_trading_day(local.date()) and start <= local.time() < end


def current_trading_date(now: datetime | None = None) -> date:
    """The trading day whose positions and quotes are current: today on a trading day,
    otherwise the last trading day before it."""
    today = shanghai_now(now).date()
    return today if is_trading_day(today) else previous_trading_day(today)
