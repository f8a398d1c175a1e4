"""Hold time and callbacks from hand-made record lines, against numbers worked out by hand:
a hold left on until the call ends counts to the end; a callback the ACD ended and the
`queue` step also noted counts once; one asked for at the door counts too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ivr.adapters.reports import ReportQuery, compute
from ivr.adapters.reports.rows import CallRow, EventRow, Inputs

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
Q = {"queue": "general"}


def inputs(lines: dict[str, list[tuple[int, str, dict[str, object]]]]) -> Inputs:
    calls, events = [], []
    for n, (call_id, script) in enumerate(lines.items()):
        start = T0 + timedelta(minutes=n)
        calls.append(CallRow(call_id, "bank", "main", start, start + timedelta(minutes=1), "completed"))
        for seq, (second, kind, detail) in enumerate(script):
            node = "agent" if kind == "node_entered" else None
            events.append(EventRow(call_id, seq, kind, start + timedelta(seconds=second), node, detail))
    return Inputs(calls, events)


TRAFFIC = {
    # waits 30 s, then asks to be called back: the ACD ends the contact so
    "k1": [(0, "node_entered", {}), (30, "agent_call_ended", {**Q, "outcome": "callback"})],
    # asks at the door: only the queue step's line
    "k2": [(0, "node_entered", {}), (5, "queue", {**Q, "outcome": "callback"})],
    # both lines for one callback
    "k3": [
        (0, "node_entered", {}),
        (40, "agent_call_ended", {**Q, "outcome": "callback"}),
        (40, "queue", {**Q, "outcome": "callback"}),
    ],
    # answered after 4 s; held at 10 s (twice: the second `on` changes nothing), back at 16 s,
    # held again at 20 s until the agent hangs up at 30 s: 6 + 10 = 16 s of hold in 26 s of talk
    "k4": [
        (0, "node_entered", {}),
        (4, "agent_connected", {**Q, "agent": "a1"}),
        (10, "agent_hold", {"agent": "a1", "on": True}),
        (12, "agent_hold", {"agent": "a1", "on": True}),
        (16, "agent_hold", {"agent": "a1", "on": False}),
        (20, "agent_hold", {"agent": "a1", "on": True}),
        (30, "agent_call_ended", {**Q, "agent": "a1", "outcome": "completed"}),
    ],
}


def test_callbacks_count_once_each_and_hold_runs_to_the_end_of_the_call() -> None:
    data = inputs(TRAFFIC)
    query = ReportQuery(T0, T0 + timedelta(hours=1), "hour", "queue")
    [queue] = compute(data, query).rows
    figures = queue.figures
    assert (figures["offered"], figures["answered"], figures["abandoned"], figures["callbacks"]) == (
        4,
        1,
        0,
        3,
    )
    assert (figures["talk_avg"], figures["hold_avg"]) == (26.0, 16.0)
    [agent] = compute(data, ReportQuery(T0, T0 + timedelta(hours=1), "hour", "agent")).rows
    assert (agent.figures["calls"], agent.figures["talk"], agent.figures["hold"]) == (1, 26.0, 16.0)
    [tenant] = compute(data, ReportQuery(T0, T0 + timedelta(hours=1), "hour", "tenant")).rows
    assert (tenant.figures["callbacks"], tenant.figures["contained"]) == (3, 0)  # all four reached the queue
