"""The wall board: what a supervisor watches, built from the ACD's live state.

Place: pure (no I/O) under the supervisor app's WebSocket: `board(statistics, today)`
turns the ACD's statistics (calls waiting per queue, longest wait, agents by state) and
today's figures from the records (`ivr.adapters.supervision.reports.today_by_queue`:
service level, abandonment) into the JSON the page draws; with the center's shared ACD,
its center-wide figures too (keys `center_...`; docs/cluster.md). The app sends it again whenever
it changes (an ACD event, or the waits growing).
"""

from __future__ import annotations

from collections.abc import Mapping

from ivr.runtime.acd import AcdStatistics
from ivr.runtime.acd.shared import CenterFigures

STATES = ("ready", "reserved", "on_call", "wrap_up", "not_ready")


def board(
    stats: AcdStatistics, today: Mapping[str, Mapping[str, object]], center: CenterFigures | None = None
) -> dict[str, object]:
    """The board's JSON: queues (live and today's), agents by state, and each agent. With a
    center's shared ACD (`center`), each queue also has the center's `center_waiting` and
    `center_longest_wait`, and `center_agents_by_state` counts every instance's agents; the
    other live figures are this instance's."""
    queues = []
    shared = center.queues if center is not None else {}
    for name in sorted(set(stats.queues) | set(today) | set(shared)):
        live = stats.queues.get(name)
        figures = today.get(name, {})
        row: dict[str, object] = {}
        if center is not None:
            found = shared.get(name)
            row = {
                "center_waiting": found.waiting if found else 0,
                "center_longest_wait": round(found.longest_wait) if found else 0,
            }
        queues.append(
            {
                "queue": name,
                **row,
                "waiting": live.waiting if live else 0,
                "longest_wait": round(live.longest_wait) if live else 0,
                "answered_live": live.answered if live else 0,
                "abandoned_live": live.abandoned if live else 0,
                "offered": figures.get("offered", 0),
                "answered": figures.get("answered", 0),
                "abandoned": figures.get("abandoned", 0),
                "service_level_pct": figures.get("service_level_pct"),
                "abandoned_pct": _share(figures.get("abandoned"), figures.get("offered")),
            }
        )
    counts = dict.fromkeys(STATES, 0)
    agents = []
    for agent in sorted(stats.agents.values(), key=lambda a: a.agent_id):
        state = agent.state.value
        counts[state] = counts.get(state, 0) + 1
        agents.append(
            {
                "agent": agent.agent_id,
                "state": state,
                "reason": agent.reason or "",
                "calls": agent.calls_handled,
            }
        )
    answer: dict[str, object] = {"event": "board", "queues": queues, "agents_by_state": counts}
    answer["agents"] = agents
    if center is not None:
        by_state: dict[str, int] = dict.fromkeys(STATES, 0)
        answer["center_agents_by_state"] = by_state | dict(center.agents)
    return answer


def _share(part: object, whole: object) -> float | None:
    if not isinstance(part, int) or not isinstance(whole, int) or whole == 0:
        return None
    return round(100 * part / whole, 1)
