"""The traffic of one flow over a time range, for `ivr draw FLOW --stats DB`.

Place: between the reader (`sqlite`) and the drawing (`ivr.flowlang.draw.traffic`): the
node visits, exits by edge, hang-ups and failures of every call in [start, end) that entered
the flow, counted by the same facts as `ivr report --by node`.
"""

from __future__ import annotations

from collections import defaultdict

from ivr.adapters.reports.figures import all_facts
from ivr.adapters.reports.rows import Inputs, ReportQuery
from ivr.flowlang.draw.traffic import FlowTraffic, NodeTraffic


def flow_traffic(inputs: Inputs, query: ReportQuery, flow: str) -> FlowTraffic:
    visits: dict[str, int] = defaultdict(int)
    exits: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    hangups: dict[str, int] = defaultdict(int)
    errors: dict[str, int] = defaultdict(int)
    calls = 0
    for facts in all_facts(inputs, query):
        mine = [v for v in facts.visits if v.flow == flow and query.start <= v.at < query.end]
        calls += bool(mine)
        for visit in mine:
            visits[visit.node] += 1
            if visit.edge is not None:
                exits[visit.node][visit.edge] += 1
            hangups[visit.node] += visit.ending == "hangup"
            errors[visit.node] += visit.ending == "error"
    nodes = {
        node: NodeTraffic(count, dict(exits[node]), hangups[node], errors[node])
        for node, count in visits.items()
    }
    period = f"{query.start:%Y-%m-%d %H:%M} to {query.end:%Y-%m-%d %H:%M} {query.zone}"
    return FlowTraffic(calls, nodes, period)
