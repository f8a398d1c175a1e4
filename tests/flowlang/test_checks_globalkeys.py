"""Global keys in the checker: how the service, flow and node levels merge, which collect
entries clash with a key, and the graph checks that count a key's `goto` as a way on."""

from __future__ import annotations

import textwrap

import pytest

from ivr.flowlang.checks import check_project
from ivr.flowlang.compile import compile_flow, compile_service
from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.globalkeys import active_keys, could_be_entry
from ivr.flowlang.ir import Collect, Flow, Menu, Project, Service
from ivr.flowlang.yamlsource import load_yaml

SERVICE = """
service: keys
languages: [en]
global_keys:
  agent: {key: "0", goto: to_agent}
  back: {key: "*", action: back}
  repeat: {key: "#", action: repeat}
queues:
  general: {skills: [general]}
"""


def _service(text: str = SERVICE) -> Service:
    loaded = load_yaml(textwrap.dedent(text), "service.yaml")
    service, problems = compile_service(loaded.data, loaded.source_map, "service.yaml")
    assert service is not None and not problems, problems
    return service


def _flow(text: str) -> Flow:
    loaded = load_yaml(textwrap.dedent(text), "flow.yaml")
    flow, problems = compile_flow(loaded.data, loaded.source_map, "flow.yaml")
    assert flow is not None and not [p for p in problems if p.is_error], problems
    return flow


def _check(text: str, service: Service | None = None) -> list[Diagnostic]:
    flow = _flow(text)
    return check_project(Project({flow.name: flow}, service or _service(), {}))


MENU_FLOW = """
flow: sub
languages: [en]
global_keys:
  repeat: false
  help: {key: "9", goto: help}
start: menu
nodes:
  menu:
    type: menu
    prompt: Press 1
    options: {"1": done}
    global_keys: {back: {key: "7"}, agent: {goto: done}}
    on_no_input: done
    on_no_match: done
  help:
    type: say
    prompt: Help
    next: menu
  done:
    type: return
"""


def test_a_flow_and_a_node_turn_off_change_and_add_keys() -> None:
    flow = _flow(MENU_FLOW)
    menu = flow.nodes["menu"]
    assert isinstance(menu, Menu)
    keys = {k.name: (k.key, k.action, k.target) for k in active_keys(_service(), flow, menu)}
    assert keys == {
        "agent": ("0", "goto", "done"),  # the node sends it elsewhere, the key stays
        "back": ("7", "back", None),  # the node moved it to another key
        "help": ("9", "goto", "help"),  # the flow added it
    }  # the flow turned repeat off


def test_a_node_level_goto_is_an_edge_of_the_node() -> None:
    menu = _flow(MENU_FLOW).nodes["menu"]
    assert ("agent", "done") in [(e.label, e.target) for e in menu.edges()]


def test_nodes_reached_only_by_a_global_key_are_reachable() -> None:
    assert _check(MENU_FLOW) == []  # `help` is reached by the flow's key only
    found = _check(
        """
        flow: sub
        languages: [en]
        start: menu
        nodes:
          menu: {type: menu, prompt: Press 1, options: {"1": done}, on_no_input: done, on_no_match: done}
          done: {type: return}
          to_agent: {type: return, outcome: agent}
        """
    )
    assert found == []  # `to_agent` is reached by the service's agent key only


def test_a_loop_left_only_by_the_agent_key_is_no_trap() -> None:
    found = _check(
        """
        flow: loop
        languages: [en]
        start: menu
        nodes:
          menu:
            type: menu
            prompt: Press 1
            options: {"1": menu}
            on_no_input: menu
            on_no_match: menu
          to_agent:
            type: enqueue
            queue: general
        """
    )
    assert "FL305" not in [d.code for d in found], found


def _collect(**fields: object) -> Collect:
    base = {"prompt": "Enter", "into": "v", "next": "done", "on_no_input": "done", "on_invalid": "done"}
    lines = "\n".join(f"    {k}: {v}" for k, v in {**base, **fields}.items())
    head = "flow: c\nlanguages: [en]\nvariables: {v: {type: string}}\nstart: ask\n"
    text = f"{head}nodes:\n  ask:\n    type: collect\n{lines}\n  done: {{type: hangup}}\n"
    node = _flow(text).nodes["ask"]
    assert isinstance(node, Collect)
    return node


@pytest.mark.parametrize(
    ("fields", "key", "clash"),
    [
        ({}, "0", True),  # any one-key entry is an answer
        ({"min_length": 6, "max_length": 6}, "0", False),  # a code has six digits
        ({"valid": "'number(v) > 0'"}, "0", False),  # 0 is no quantity
        ({"valid": "'number(v) > 0'"}, "*", False),  # a star is no number: the check fails
        ({"valid": "is_digits(v)"}, "0", True),  # 0 is digits
        ({"valid": "v == other"}, "0", True),  # depends on another variable: cannot tell
        ({"star_decimal": "true"}, "*", False),  # a lone star is no number
        ({}, "#", False),  # an empty entry is no answer (min_length 1)
        ({"min_length": 0}, "#", True),  # an empty entry is an answer
        ({"terminator": "false", "max_length": 1}, "5", True),
    ],
)
def test_a_collect_clashes_with_a_key_only_when_the_key_alone_could_be_its_answer(
    fields: dict[str, object], key: str, clash: bool
) -> None:
    assert could_be_entry(_collect(**fields), key) is clash


def test_a_global_key_on_a_confirm_key_is_reported_on_the_confirm() -> None:
    found = _check(
        """
        flow: c
        languages: [en]
        global_keys: {agent: {goto: agent}}
        start: check
        nodes:
          check:
            type: confirm
            prompt: Sure? 1 yes, 0 no
            cancel_key: "0"
            next: done
            on_cancel: done
            on_no_input: done
          agent: {type: enqueue, queue: general}
          done: {type: hangup}
        """
    )
    assert [(d.code, d.node_id) for d in found] == [("FL310", "check")]
    assert "takes '0' to cancel" in found[0].message and "global_keys: {agent: false}" in (
        found[0].hint or ""
    )


def test_without_a_service_a_flow_declares_its_own_keys() -> None:
    flow = _flow(
        """
        flow: alone
        languages: [en]
        global_keys: {agent: {key: "0", goto: agent}}
        start: menu
        nodes:
          menu: {type: menu, prompt: Press 1, options: {"1": agent}, on_no_input: agent, on_no_match: agent}
          agent: {type: enqueue, queue: general}
        """
    )
    menu = flow.nodes["menu"]
    assert isinstance(menu, Menu)
    assert [(k.name, k.key, k.target) for k in active_keys(None, flow, menu)] == [("agent", "0", "agent")]
