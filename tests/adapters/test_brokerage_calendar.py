"""The back office and the IVR must agree on trading days: the service's `trading` calendar
(what callers hear) and the back office's `HOLIDAYS` (what it accepts orders on) are two
copies of one fact, so this test keeps them from drifting apart."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ivr.adapters.brokerage.clock import HOLIDAYS
from ivr.flowlang.project import load_project

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def test_service_trading_calendar_has_the_back_office_holidays() -> None:
    project, _ = load_project([FLOWS / "service.yaml"])
    assert project.service is not None
    calendar = project.service.calendars["trading"]
    assert calendar.timezone == "Asia/Shanghai"
    assert {date.fromisoformat(d) for d in calendar.holidays} == set(HOLIDAYS)
