"""Metering, the pure core (`ivr.runtime.usage`) and its journal of agents' logged-in time:
figures computed by hand, random calls that always add up, and seat-hours kept durably."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.adapters.hosting.queues import SeatJournal
from ivr.adapters.storage import open_sqlite_call_records
from ivr.adapters.storage.codec import encode_time
from ivr.runtime.acd import AcdSettings, open_acd
from ivr.runtime.testing.acd import MemoryAgentConnector
from ivr.runtime.usage import CallUsage, RecordingUsage, SessionUsage, totals, usage

SHANGHAI = "Asia/Shanghai"
# 2026-03-02 in Shanghai runs from 2026-03-01T16:00Z to 2026-03-02T16:00Z
T = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
NOW = datetime(2026, 3, 5, tzinfo=UTC)


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


def test_a_day_computed_by_hand() -> None:
    calls = [
        CallUsage("bank", T, T + minutes(3)),  # 3 IVR minutes
        CallUsage("bank", T, T + minutes(10), ((T + minutes(2), T + minutes(8)),)),  # 4 IVR + 6 talk
        CallUsage(
            "bank", T + timedelta(hours=14, minutes=50), T + timedelta(hours=15, minutes=20)
        ),  # 23:50 -> 00:20
        CallUsage("fund", T, None),  # still up at NOW: counts to NOW
    ]
    sessions = [
        SessionUsage("bank", "9001", T + timedelta(hours=13), T + timedelta(hours=17))
    ]  # 22:00 -> 02:00
    recordings = [RecordingUsage("bank", T + minutes(10), Decimal("90"))]
    found = usage(
        calls, sessions, recordings, zone=SHANGHAI, first=date(2026, 3, 2), last=date(2026, 3, 4), now=NOW
    )
    rows = {(r.tenant, r.day): r.row() for r in found}
    day1, day2 = rows[("bank", date(2026, 3, 2))], rows[("bank", date(2026, 3, 3))]
    assert (day1["calls"], day1["ivr_minutes"], day1["agent_talk_minutes"]) == (
        3,
        Decimal("37.0"),
        Decimal("6.0"),
    )
    assert (day1["agent_seat_hours"], day2["agent_seat_hours"]) == (Decimal("2.0"), Decimal("2.0"))
    assert (day1["recordings"], day1["recording_minutes"]) == (1, Decimal("1.5"))
    assert day2["calls"] == 0  # the call over midnight belongs to the day it started
    fund = rows[("fund", date(2026, 3, 2))]
    assert fund["calls"] == 1 and fund["ivr_minutes"] == Decimal(
        str(round((NOW - T).total_seconds() / 60, 1))
    )


def test_days_outside_the_range_are_left_out() -> None:
    calls = [CallUsage("bank", T - timedelta(days=3), T - timedelta(days=3) + minutes(1))]
    assert usage(calls, [], [], zone=SHANGHAI, first=date(2026, 3, 2), last=date(2026, 3, 3), now=NOW) == []


moments = st.integers(min_value=0, max_value=4 * 86400).map(lambda s: T + timedelta(seconds=s))


@st.composite
def a_call(draw: st.DrawFn) -> CallUsage:
    start = draw(moments)
    length = draw(st.integers(min_value=0, max_value=7200))
    talk_start = draw(st.integers(min_value=0, max_value=7200))
    talk_length = draw(st.integers(min_value=0, max_value=7200))
    talk = ((start + timedelta(seconds=talk_start), start + timedelta(seconds=talk_start + talk_length)),)
    return CallUsage(draw(st.sampled_from(["bank", "fund"])), start, start + timedelta(seconds=length), talk)


@settings(max_examples=200, deadline=None)
@given(st.lists(a_call(), max_size=40), st.lists(st.tuples(moments, st.integers(0, 3 * 86400)), max_size=10))
def test_random_days_add_up_to_every_call_and_every_logged_in_second(
    calls: list[CallUsage], spans: list[tuple[datetime, int]]
) -> None:
    sessions = [
        SessionUsage("bank", f"a{i}", start, start + timedelta(seconds=s))
        for i, (start, s) in enumerate(spans)
    ]
    rows = usage(calls, sessions, [], zone=SHANGHAI, first=date(2026, 2, 1), last=date(2026, 4, 1), now=NOW)
    summed = totals(rows)
    for tenant in ("bank", "fund"):
        mine = [c for c in calls if c.tenant == tenant]
        total = summed.get(tenant)
        assert (total.calls if total else 0) == len(mine)
        length = sum(((c.ended or NOW) - c.started).total_seconds() for c in mine)
        assert float((total.ivr_seconds + total.talk_seconds) if total else 0) == length
    seated = sum(s for _, s in spans)
    assert float(summed["bank"].seat_seconds if "bank" in summed else 0) == seated
    assert all(row.talk_seconds >= 0 and row.ivr_seconds >= 0 for row in rows)


async def test_agents_logged_in_time_is_journaled_per_tenant_with_a_heartbeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SeatJournal, "HEARTBEAT", 0.05)
    login = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    clock = [login]
    database = tmp_path / "calls.sqlite3"
    async with open_sqlite_call_records(database) as store:
        async with open_acd(MemoryAgentConnector(), AcdSettings()) as acd, trio.open_nursery() as nursery:
            journal = SeatJournal(acd, store, "bank", now=lambda: clock[0])
            await nursery.start(journal.run)
            acd.login("9001", "sip:9001@127.0.0.1", {"cards": 3})
            acd.login("9002", "sip:9002@127.0.0.1", {"cards": 3})
            await trio.sleep(0.2)
            clock[0] = login + minutes(61)
            await trio.sleep(0.5)  # the heartbeat notes both alive at +61 min
            alive = (
                sqlite3.connect(database).execute("SELECT DISTINCT seen_at FROM agent_sessions").fetchall()
            )
            assert alive == [(encode_time(login + minutes(61)),)]
            acd.logout("9001")
            await trio.sleep(0.2)
            clock[0] = login + minutes(90)
            await trio.sleep(0.2)
            nursery.cancel_scope.cancel()  # 9002 still in: closed at the stop, +90 min
        _, sessions, _ = await store.usage_inputs(login - timedelta(days=1), login + timedelta(days=1))
    spans = sorted((s.tenant, s.agent, round((s.end - s.start).total_seconds())) for s in sessions if s.end)
    assert spans == [("bank", "9001", 61 * 60), ("bank", "9002", 90 * 60)]
