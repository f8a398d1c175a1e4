"""The pure core on generated inputs (hypothesis): intervals cut time without losing any,
and finer intervals add up to coarser ones, whatever the calls, queues and zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.adapters.reports import ReportQuery, compute
from ivr.adapters.reports.rows import CallRow, EventRow, Inputs, Interval, SessionRow, split

START = datetime(2026, 3, 28, tzinfo=UTC)  # Europe/London and Paris change clocks on the 29th
ZONES = ["UTC", "Asia/Shanghai", "Europe/London", "America/St_Johns"]
INTERVALS: list[Interval] = ["15m", "hour", "day"]
COUNTS = ("offered", "answered", "abandoned", "timeout", "answered_in_sl")


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 3 * 86400),
    st.integers(0, 2 * 86400),
    st.sampled_from(INTERVALS),
    st.sampled_from(ZONES),
)
def test_a_span_cut_into_intervals_keeps_every_second(
    start: int, length: int, interval: Interval, zone: str
) -> None:
    begin = START + timedelta(seconds=start)
    pieces = list(split(begin, begin + timedelta(seconds=length), interval, ZoneInfo(zone)))
    assert abs(sum(seconds for _, seconds in pieces) - length) < 1e-6
    assert all(seconds > 0 for _, seconds in pieces)
    assert [first for first, _ in pieces] == sorted({first for first, _ in pieces})


@st.composite
def queue_calls(draw: st.DrawFn) -> Inputs:
    """Calls that each enter a queue and are answered, abandoned or time out."""
    calls: list[CallRow] = []
    events: list[EventRow] = []
    for n in range(draw(st.integers(0, 30))):
        call_id = f"c{n}"
        start = START + timedelta(seconds=draw(st.integers(0, 2 * 86400)))
        queue = draw(st.sampled_from(["general", "orders"]))
        wait = timedelta(seconds=draw(st.integers(0, 300)))
        outcome = draw(st.sampled_from(["completed", "abandoned", "timeout"]))
        lines: list[tuple[str, datetime, str | None, dict[str, object]]] = [
            ("node_entered", start, "agent", {"flow": "main"})
        ]
        if outcome == "completed":
            lines.append(("agent_connected", start + wait, None, {"agent": "a1", "queue": queue}))
            end = start + wait + timedelta(seconds=draw(st.integers(1, 600)))
            lines.append(
                ("agent_call_ended", end, None, {"agent": "a1", "queue": queue, "outcome": "completed"})
            )
        else:
            end = start + wait
            lines.append(("agent_call_ended", end, None, {"agent": None, "queue": queue, "outcome": outcome}))
        how = "caller_hangup" if outcome == "abandoned" else "completed"
        calls.append(CallRow(call_id, "bank", "main", start, end, how))
        events += [EventRow(call_id, i, kind, at, node, d) for i, (kind, at, node, d) in enumerate(lines)]
    return Inputs(calls, events)


@settings(max_examples=100, deadline=None)
@given(queue_calls(), st.sampled_from(ZONES))
def test_quarter_hours_add_up_to_hours_and_hours_to_days(inputs: Inputs, zone: str) -> None:
    totals = []
    for interval in INTERVALS:
        query = ReportQuery(START, START + timedelta(days=3), interval, "queue", zone=zone)
        rows = compute(inputs, query).rows
        totals.append(
            {
                (row.key, c): sum(_int(r.figures[c]) for r in rows if r.key == row.key)
                for row in rows
                for c in COUNTS
            }
        )
        for row in rows:
            f = row.figures
            assert _int(f["offered"]) == _int(f["answered"]) + _int(f["abandoned"]) + _int(f["timeout"])
            assert _int(f["answered_in_sl"]) <= _int(f["answered"])
    assert totals[0] == totals[1] == totals[2]
    assert sum(v for (_, c), v in totals[2].items() if c == "offered") == len(inputs.calls)


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def test_agents_of_two_tenants_with_one_id_stay_apart() -> None:
    sessions = [
        SessionRow("bank", "8001", START, START + timedelta(minutes=30)),
        SessionRow("fund", "8001", START, START + timedelta(minutes=10)),
    ]
    inputs = Inputs([], [], sessions)
    both = compute(inputs, ReportQuery(START, START + timedelta(hours=1), "hour", "agent"))
    assert {row.key: row.figures["logged_in"] for row in both.rows} == {
        "bank/8001": 1800.0,
        "fund/8001": 600.0,
    }
    one = compute(inputs, ReportQuery(START, START + timedelta(hours=1), "hour", "agent", tenant="fund"))
    assert {row.key: row.figures["logged_in"] for row in one.rows} == {"8001": 600.0}
