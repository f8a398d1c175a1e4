"""Every figure of a report, checked against numbers worked out by hand for known traffic:
five calls through the real engine, ACD and SQLite records, one agent answering."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import trio
from reports_support import T0, TENANT, Site, five_calls, run_traffic

from ivr.adapters.reports import ReportQuery, compute, read_inputs
from ivr.adapters.reports.figures import Report
from ivr.adapters.reports.rows import By, Interval
from ivr.adapters.reports.sqlite import open_database
from ivr.runtime.testing.acd import AgentAnswer


@pytest.fixture
def stores(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "calls.sqlite3", tmp_path / "agent-journal.sqlite3"


def report(stores: tuple[Path, Path], by: By, interval: Interval = "hour", **options: object) -> Report:
    database, journal = stores
    query = ReportQuery(T0, T0 + timedelta(hours=1), interval, by, **options)  # type: ignore[arg-type]
    conn = open_database(database)
    try:
        return compute(read_inputs(conn, query, [(TENANT, journal)]), query)
    finally:
        conn.close()


async def test_queue_figures_match_the_hand_count(stores: tuple[Path, Path], autojump_clock: object) -> None:
    await run_traffic(*stores, five_calls)
    [row] = report(stores, "queue").rows
    assert (row.interval, row.key) == (T0, "general")
    assert row.figures == {
        "offered": 3,
        "answered": 2,
        "abandoned": 1,
        "abandon_wait_avg": 20.0,
        "timeout": 0,
        "no_agents": 0,
        "overflow": 0,
        "answered_in_sl": 1,  # c3 after 3 s; c4 waited 46 s
        "service_level_pct": 50.0,
        "asa": 24.5,  # (3 + 46) / 2
        "talk_avg": 40.0,
        "hold_avg": 6.5,  # c3 held 8 s, c4 5 s
        "wrap_up_avg": 10.0,
        "aht": 50.0,
        "transfers": 0,
        "callbacks": 0,
    }


async def test_a_queue_threshold_of_its_own_changes_its_service_level(
    stores: tuple[Path, Path], autojump_clock: object
) -> None:
    await run_traffic(*stores, five_calls)
    [row] = report(stores, "queue", service_levels={"general": 50.0}).rows
    assert (row.figures["answered_in_sl"], row.figures["service_level_pct"]) == (2, 100.0)


async def test_tenant_and_flow_figures_count_containment_and_hangups(
    stores: tuple[Path, Path], autojump_clock: object
) -> None:
    await run_traffic(*stores, five_calls)
    expected = {
        "calls": 5,
        "contained": 1,  # c1
        "containment_pct": 20.0,
        "hangups_in_ivr": 1,  # c2 (c5 hung up in the queue: an abandoned call)
        "failed": 0,
        "transfers": 0,
        "offered": 3,
        "answered": 2,
        "abandoned": 1,
        "service_level_pct": 50.0,
        "asa": 24.5,
        "callbacks": 0,
    }
    [tenant] = report(stores, "tenant").rows
    [flow] = report(stores, "flow").rows
    assert (tenant.key, tenant.figures) == (TENANT, expected)
    assert (flow.key, flow.figures) == ("main", expected)
    assert report(stores, "tenant", tenant="another").rows == []


async def test_agent_figures_come_from_the_calls_sessions_and_journal(
    stores: tuple[Path, Path], autojump_clock: object
) -> None:
    await run_traffic(*stores, five_calls)
    [row] = report(stores, "agent").rows
    assert row.key == "a1"
    assert row.figures == {
        "calls": 2,
        "talk": 80.0,
        "hold": 13.0,  # 8 s of c3, 5 s of c4
        "wrap_up": 20.0,
        "aht": 50.0,
        "logged_in": 200.0,
        "ready": 94.0,  # 0..10, 63..63, 116..200
        "not_ready": 0.0,
        "on_call": 80.0,
        "occupancy_pct": 51.5,  # 100 / (100 + 94)
        "no_answers": 0,
        "transfers": 0,
    }


async def test_node_figures_count_visits_exits_and_hangups(
    stores: tuple[Path, Path], autojump_clock: object
) -> None:
    await run_traffic(*stores, five_calls)
    rows = {row.key: row.figures for row in report(stores, "node").rows}
    assert rows == {
        "main.pick": {"visits": 5, "exits": {"1": 1, "2": 3}, "hangups": 1, "errors": 0},
        "main.balance": {"visits": 1, "exits": {"next": 1}, "hangups": 0, "errors": 0},
        "main.agent": {"visits": 3, "exits": {"next": 2}, "hangups": 1, "errors": 0},
        "main.bye": {"visits": 3, "exits": {}, "hangups": 0, "errors": 0},
    }


async def test_quarter_hours_split_the_agents_time(stores: tuple[Path, Path], autojump_clock: object) -> None:
    await run_traffic(*stores, five_calls)
    rows = report(stores, "agent", "15m").rows
    assert [(row.interval, row.figures["logged_in"]) for row in rows] == [(T0, 200.0)]
    day = report(stores, "queue", "day").rows
    assert [(row.interval, row.figures["offered"]) for row in day] == [(T0.replace(hour=0), 3)]


# A second story: a1 does not answer (its phone rings the 15 s limit), a2 starts not ready.
#   t=0   a1 ready, a2 not ready. c1 presses 2: a1 rings 0..15, no answer, a1 goes not ready.
#   t=5   c2 presses 2 and waits (max_wait 60 s).
#   t=30  a2 ready: takes c1 (the head of the queue), rings 30..33, talks 33..73, wraps 73..83.
#   t=65  c2 times out after 60 s of waiting (a1 not ready, a2 on a call).
#   t=120 both log out.
async def a_missed_ring_and_a_timeout(site: Site) -> None:
    site.acd.login("a1", "sip:a1@pbx", {}, ready=True)
    site.acd.login("a2", "sip:a2@pbx", {})
    site.call("c1", 0, keys="2")
    site.call("c2", 5, keys="2")
    await trio.sleep_until(site.origin + 30)
    site.acd.set_ready("a2")
    await trio.sleep_until(site.origin + 120)
    site.acd.logout("a1")
    site.acd.logout("a2")


async def test_a_missed_ring_and_a_timeout_are_counted(
    stores: tuple[Path, Path], autojump_clock: object
) -> None:
    await run_traffic(*stores, a_missed_ring_and_a_timeout, scripts={"a1": [AgentAnswer("no_answer")]})
    [queue] = report(stores, "queue").rows
    assert {k: queue.figures[k] for k in ("offered", "answered", "timeout", "abandoned", "asa")} == {
        "offered": 2,
        "answered": 1,
        "timeout": 1,
        "abandoned": 0,
        "asa": 33.0,
    }
    assert (queue.figures["service_level_pct"], queue.figures["aht"]) == (0.0, 50.0)
    agents = {row.key: row.figures for row in report(stores, "agent").rows}
    assert {k: agents["a1"][k] for k in ("calls", "no_answers", "ready", "not_ready", "logged_in")} == {
        "calls": 0,
        "no_answers": 1,
        "ready": 0.0,  # rang from t=0 (reserved), then not ready from t=15
        "not_ready": 105.0,
        "logged_in": 120.0,
    }
    assert {
        k: agents["a2"][k] for k in ("calls", "talk", "wrap_up", "ready", "not_ready", "occupancy_pct")
    } == {
        "calls": 1,
        "talk": 40.0,
        "wrap_up": 10.0,
        "ready": 37.0,  # 30..30 and 83..120
        "not_ready": 30.0,
        "occupancy_pct": 57.5,  # 50 / (50 + 37)
    }
    nodes = {row.key: row.figures for row in report(stores, "node").rows}
    assert nodes["main.agent"]["exits"] == {"next": 1, "on_timeout": 1}


# A third story, with a queue that holds one caller: a1 is logged in but not ready.
#   t=0   c1 presses 2 and waits; t=5 c2 presses 2: the queue is full (overflow).
#   t=20  c1 hangs up (abandoned after 20 s); t=30 a1 logs out.
#   t=40  c3 presses 2: nobody is logged in (no_agents at the door).
async def a_full_queue_and_an_empty_one(site: Site) -> None:
    site.acd.login("a1", "sip:a1@pbx", {})
    site.call("c1", 0, keys="2", hang_up_at=20)
    site.call("c2", 5, keys="2")
    await trio.sleep_until(site.origin + 30)
    site.acd.logout("a1")
    site.call("c3", 40, keys="2")


async def test_callers_turned_away_are_counted_apart(
    stores: tuple[Path, Path], autojump_clock: object
) -> None:
    await run_traffic(*stores, a_full_queue_and_an_empty_one, capacity=1)
    [queue] = report(stores, "queue").rows
    figures = ("offered", "answered", "abandoned", "abandon_wait_avg", "overflow", "no_agents", "asa")
    assert {k: queue.figures[k] for k in figures} == {
        "offered": 2,  # c1 and c3; the overflowed c2 never entered
        "answered": 0,
        "abandoned": 1,
        "abandon_wait_avg": 20.0,
        "overflow": 1,
        "no_agents": 1,
        "asa": None,
    }
    nodes = {row.key: row.figures for row in report(stores, "node").rows}
    assert nodes["main.agent"]["exits"] == {"on_no_agents": 1, "on_overflow": 1}
