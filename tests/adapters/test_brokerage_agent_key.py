"""0 reaches an agent from every menu, collect and confirm of the brokerage flows, as
docs/brokerage.md promises: flows/agent_key.test.yaml has one test per input node, each
passes and queues the caller, and together they press the agent key at every input node
where it works (a new menu without its test fails here)."""

from __future__ import annotations

from pathlib import Path

from ivr.flowlang.globalkeys import active_keys
from ivr.flowlang.ir import Collect, Confirm, Menu, Project
from ivr.flowlang.project import load_project
from ivr.runtime.flowtest.loader import load_test_file
from ivr.runtime.flowtest.runner import run_case

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def _asks(project: Project, flow: str, node: str) -> bool:
    return isinstance(project.flows[flow].nodes[node], Menu | Collect | Confirm)


def test_pressing_0_at_every_menu_collect_and_confirm_reaches_an_agent() -> None:
    project, _ = load_project([FLOWS])
    walk, problems = load_test_file(str(FLOWS / "agent_key.test.yaml"))
    assert walk is not None and not problems, problems
    pressed: dict[tuple[str, str], str] = {}
    for test in walk.tests:
        result = run_case(project, test)
        assert result.passed, (test.name, result.failures)
        where = [
            (v.flow, v.node) for v in result.path if v.edge == "agent" and _asks(project, v.flow, v.node)
        ]
        assert len(where) == 1, (test.name, where)
        assert where[0] not in pressed, f"{test.name} repeats {pressed.get(where[0])}"
        pressed[where[0]] = test.name
    every = {
        (flow.name, node.id)
        for flow in project.flows.values()
        for node in flow.nodes.values()
        if isinstance(node, Menu | Collect | Confirm)
        and any(key.name == "agent" and key.key == "0" for key in active_keys(project.service, flow, node))
    }
    assert len(every) == 34
    assert sorted(every - set(pressed)) == []
