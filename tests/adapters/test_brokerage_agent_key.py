"""0 reaches an agent from every menu, collect and confirm of the brokerage flows, as
docs/brokerage.md promises: flows/agent_key.test.yaml has one test per input node, each
passes and queues the caller, and together they press the agent key at every input node
where it works (a new menu without its test fails here). The same holds for the flows as
`ivr serve` plans them, alone (`--flows flows`) or as the brokerage tenant of hosting.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.adapters.hosting.plan import plan_folder, plan_hosting
from ivr.flowlang.globalkeys import active_keys
from ivr.flowlang.ir import Collect, Confirm, Menu, Project
from ivr.flowlang.project import load_project
from ivr.runtime.flowtest.loader import load_test_file
from ivr.runtime.flowtest.runner import run_case

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"


def _planned(how: str) -> Project:
    """The brokerage's project as the server plans it: the folder alone or the hosted tenant."""
    plan = plan_folder(FLOWS) if how == "folder" else plan_hosting(ROOT / "hosting.yaml")
    assert not plan.errors, plan.errors
    return plan.tenants["brokerage"].project


def _asks(project: Project, flow: str, node: str) -> bool:
    return isinstance(project.flows[flow].nodes[node], Menu | Collect | Confirm)


@pytest.mark.parametrize("how", ["project", "folder", "hosting file"])
def test_pressing_0_at_every_menu_collect_and_confirm_reaches_an_agent(how: str) -> None:
    project = load_project([FLOWS])[0] if how == "project" else _planned(how)
    assert project.service is not None and [k.key for k in project.service.global_keys] == ["0", "*", "#"]
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
    assert len(every) == 39
    assert sorted(every - set(pressed)) == []
