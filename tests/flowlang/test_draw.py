"""Drawing, stage by stage: IR -> model (shapes, edge styles, reachability) -> DOT -> images.

The flow is compiled from YAML text with every node kind once, so the tests also pin what
the compiler hands to drawing (DTMF keys as strings, branch conditions as edge labels).
`tests/cli/test_draw_command.py` covers `ivr draw` itself.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr.flowlang import ir
from ivr.flowlang.compile import compile_service
from ivr.flowlang.draw import EdgeKind, extract, render, to_dot
from ivr.flowlang.draw.extract import excerpt
from ivr.flowlang.draw.render import format_from_path, start_marker_id
from ivr.flowlang.project import load_flow_text
from ivr.flowlang.yamlsource import load_yaml

FILE = "flows/demo.yaml"


DEMO = """\
flow: demo
languages: [zh, en]
variables:
  code: {type: string}
  tries: {type: number, initial: 0}
  quote: {type: any}
  recording: {type: any}
  customer: {type: map}
start: welcome
nodes:
  welcome:
    type: say
    prompt: {zh: "欢迎致电{quote.name}证券", en: "Welcome to {quote.name}"}
    next: hours
  hours:
    type: schedule
    calendar: trading
    open: main
    closed: bye
  main:
    type: menu
    prompt: {zh: 查询行情请按1，人工服务请按0, en: "For quotes press 1, for an agent press 0"}
    options:
      1: ask_code
      0: agent
      "*": to_en
      "#": login
    on_no_input: bye
    on_no_match: bye
  to_en:
    type: language
    language: en
    next: main
  ask_code:
    type: collect
    prompt: {zh: 请输入六位股票代码, en: Enter the six-digit code}
    into: code
    min_length: 6
    max_length: 6
    next: count
    on_no_input: bye
    on_invalid: bye
  count:
    type: set
    assign:
      tries: tries + 1
    next: fetch
  fetch:
    type: lookup
    operation: get_quote
    args: {code: code}
    assign: {quote: result}
    next: route
    on_error: sorry
    on_timeout: sorry
  route:
    type: branch
    cases:
      - if: quote.found
        next: read
    else: ghost
  read:
    type: say
    prompt: {zh: "{quote.name}最新价{quote.last|price}元", en: "{quote.last|price}"}
    next: confirm
  confirm:
    type: confirm
    prompt: {zh: 确认请按1, en: Press 1 to confirm}
    next: complaint
    on_no_input: bye
  complaint:
    type: record
    prompt: {zh: 请留言, en: Leave a message}
    into: recording
    next: statement
    on_no_input: bye
  statement:
    type: send
    channel: email
    to: customer.email
    message: {zh: 您的对账单, en: Your statement}
    next: note
    on_error: sorry
  note:
    type: log
    message: 'sent <statement> & "done" {code}'
    next: bye
  login:
    type: subflow
    flow: authenticate
    outcomes: {ok: main, locked: bye}
    on_error: sorry
  agent:
    type: enqueue
    queue: general
    skills: [orders]
    next: bye
    on_overflow: expert
    on_timeout: expert
    on_no_agents: expert
  expert:
    type: transfer
    to: "'sip:expert@127.0.0.1'"
    on_failed: sorry
  sorry:
    type: say
    prompt: {zh: 系统繁忙, en: Sorry}
    next: bye
  bye:
    type: hangup
    prompt: {zh: 再见, en: Goodbye}
  orphan:
    type: say
    prompt: {zh: 没人来这里, en: Nobody comes here}
    next: done
  done:
    type: return
    outcome: ok
"""

SERVICE = """\
service: demo
languages: [zh, en]
operations:
  get_quote: {backend: python, function: "ivr.adapters.brokerage.operations:get_quote", params: [code]}
queues:
  general: {skills: [orders]}
calendars:
  trading: {timezone: Asia/Shanghai, hours: {mon: [["09:30", "11:30"]]}}
channels:
  email: {kind: email}
"""


def demo_service() -> ir.Service:
    loaded = load_yaml(SERVICE, "flows/service.yaml")
    service, diagnostics = compile_service(loaded.data, loaded.source_map, "flows/service.yaml")
    assert service is not None and not diagnostics
    return service


def demo_flow() -> ir.Flow:
    """Every node kind once; `orphan` and `done` can't be reached, `route` names a missing node."""
    flow, diagnostics = load_flow_text(DEMO, FILE, demo_service())
    assert flow is not None
    assert [d.code for d in diagnostics if d.is_error] == ["FL301"]  # the missing 'ghost' only
    return flow


# ---- model ---------------------------------------------------------------------------------


def test_every_node_kind_gets_its_own_shape() -> None:
    diagram = extract(demo_flow())
    shapes = {node.kind: node.style.shape for node in diagram.nodes}
    assert shapes["menu"] == "hexagon"
    assert shapes["collect"] == "parallelogram"
    assert shapes["branch"] == "diamond"
    assert shapes["lookup"] == "cylinder"
    assert shapes["subflow"] == "box3d"
    assert shapes["hangup"] == "doublecircle"
    assert set(ir.NODE_KINDS) <= set(shapes)
    drawn_kinds = {k: s for k, s in shapes.items() if k not in ("hangup", "return", "missing")}
    assert len(set(drawn_kinds.values())) == len(drawn_kinds), "two kinds share a shape"


def test_enqueue_and_transfer_stand_out_in_colour() -> None:
    diagram = extract(demo_flow())
    fills = {node.kind: node.style.fill for node in diagram.nodes}
    assert fills["enqueue"] != fills["say"] and fills["transfer"] != fills["say"]
    assert fills["enqueue"].startswith("#ff") and fills["transfer"].startswith("#ff")


def test_menu_options_become_edges_labelled_by_dtmf_key() -> None:
    diagram = extract(demo_flow())
    labels = {e.label: e.target for e in diagram.edges_from("main")}
    assert labels == {"1": "ask_code", "0": "agent", "*": "to_en", "#": "login",
                      "on_no_input": "bye", "on_no_match": "bye"}  # fmt: skip


def test_branch_edges_carry_their_condition() -> None:
    diagram = extract(demo_flow())
    assert [(e.label, e.kind) for e in diagram.edges_from("route")] == [
        ("quote.found", EdgeKind.NORMAL),
        ("else", EdgeKind.NORMAL),
    ]


def test_error_and_timeout_edges_are_dashed() -> None:
    edges = {(e.source, e.label): e for e in extract(demo_flow()).edges}
    assert edges[("fetch", "on_error")].kind is EdgeKind.FAILURE
    assert edges[("fetch", "on_timeout")].kind is EdgeKind.TIMEOUT
    assert edges[("expert", "on_failed")].dashed
    assert edges[("agent", "on_no_agents")].dashed
    assert not edges[("fetch", "next")].dashed
    assert not edges[("main", "1")].dashed


def test_start_node_is_marked_and_unreachable_nodes_greyed() -> None:
    diagram = extract(demo_flow())
    assert diagram.start == "welcome"
    assert diagram.node("welcome").is_start
    assert not diagram.node("orphan").reachable
    assert not diagram.node("done").reachable
    assert "(unreachable)" in diagram.node("orphan").lines
    assert diagram.node("bye").reachable
    assert not diagram.edges_from("orphan")[0].reachable
    assert diagram.edges_from("welcome")[0].reachable


def test_an_edge_to_a_missing_node_gets_a_placeholder() -> None:
    ghost = extract(demo_flow()).node("ghost")
    assert ghost.missing
    assert ghost.lines == ("ghost", "missing node")


def test_labels_show_id_kind_and_prompt_in_the_first_language() -> None:
    node = extract(demo_flow()).node("read")
    assert node.lines == ("read", "say", "{quote.name}最新价{quote.last|price}元")


def test_lang_picks_the_prompt_language() -> None:
    assert extract(demo_flow(), language="en").node("welcome").lines[2] == "Welcome to {quote.name}"
    assert extract(demo_flow(), language="en").language == "en"


def test_a_language_the_prompt_lacks_falls_back_to_the_first() -> None:
    assert extract(demo_flow(), language="fr").node("welcome").lines[2] == "欢迎致电{quote.name}证券"


def test_nodes_without_prompts_say_what_they_do() -> None:
    diagram = extract(demo_flow())
    assert diagram.node("fetch").lines[2] == "get_quote(code)"
    assert diagram.node("login").lines[2] == "→ authenticate"
    assert diagram.node("agent").lines[2] == "queue general [orders]"
    assert diagram.node("hours").lines[2] == "calendar trading"
    assert diagram.node("count").lines[2] == "tries = tries + 1"


def test_subflow_nodes_link_to_the_other_flow() -> None:
    diagram = extract(demo_flow(), flow_links={"authenticate": "authenticate.svg"})
    login = diagram.node("login")
    assert login.url == "authenticate.svg"
    assert "runs flow authenticate (authenticate.svg)" in login.tooltip


def test_excerpt_cuts_long_text_by_display_width() -> None:
    assert excerpt("short") == "short"
    assert excerpt("a  b\n c") == "a b c"
    cut = excerpt("x" * 60)
    assert cut == "x" * 39 + "…"
    chinese = excerpt("您好" * 30)
    assert chinese.endswith("…") and len(chinese) == 20


# ---- DOT -----------------------------------------------------------------------------------


def test_dot_text_shapes_styles_and_labels() -> None:
    dot = to_dot(extract(demo_flow()), fontname="Test Sans")
    assert "digraph demo {" in dot
    assert 'main [label=<<B>main</B><BR/><FONT POINT-SIZE="9">menu</FONT>' in dot
    assert "shape=hexagon" in dot
    assert "main -> ask_code [label=<1>" in dot
    assert 'fetch -> sorry [label=<on_error> color="#d32f2f"' in dot
    assert "style=dashed" in dot
    assert 'count -> fetch [color="#37474f"' in dot, "a `next` arrow carries no label"
    assert 'fontname="Test Sans"' in dot


def test_dot_escapes_what_authors_write() -> None:
    dot = to_dot(extract(demo_flow()))
    note = next(line for line in dot.splitlines() if line.strip().startswith("note ["))
    assert "<BR/>sent &lt;statement&gt; &amp; &quot;done&quot; {code}>" in note
    assert "<statement>" not in note.split("tooltip=")[0]


def test_dot_marks_start_and_greys_unreachable() -> None:
    diagram = extract(demo_flow())
    dot = to_dot(diagram)
    marker = start_marker_id(diagram)
    assert f"{marker} -> welcome" in dot
    orphan_line = next(line for line in dot.splitlines() if line.strip().startswith("orphan ["))
    assert 'fillcolor="#eeeeee"' in orphan_line and 'fontcolor="#9e9e9e"' in orphan_line
    assert 'orphan -> done [color="#9e9e9e"' in dot


def test_dot_font_list_falls_back_to_cjk_and_sans_serif() -> None:
    dot = to_dot(extract(demo_flow()))
    assert "Noto Sans CJK SC" in dot and "sans-serif" in dot


def test_subflow_url_is_in_the_dot() -> None:
    dot = to_dot(extract(demo_flow(), flow_links={"authenticate": "auth.svg"}))
    assert 'URL="auth.svg"' in dot


@pytest.mark.parametrize(
    ("name", "fmt"), [("a.svg", "svg"), ("a.PNG", "png"), ("a.dot", "dot"), ("a.gv", "dot"), ("a.pdf", "pdf")]
)
def test_format_comes_from_the_extension(name: str, fmt: str) -> None:
    assert format_from_path(Path(name)) == fmt


def test_an_unknown_extension_is_refused() -> None:
    with pytest.raises(ValueError, match=r"use \.svg, \.png"):
        format_from_path(Path("a.jpg"))


# ---- images (need the `dot` program; they must run in CI) ----------------------------------


@pytest.mark.graphviz
def test_svg_renders_and_holds_every_node_id() -> None:
    diagram = extract(demo_flow())
    svg = render(diagram, "svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    titles = {el.text for el in root.iter("{http://www.w3.org/2000/svg}title")}
    assert {node.id for node in diagram.nodes} <= titles
    assert "欢迎致电{quote.name}证券" in svg.decode("utf-8")


@pytest.mark.graphviz
def test_png_renders() -> None:
    png = render(extract(demo_flow()), "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000


def test_nodes_with_diagnostics_are_marked_with_their_worst_problem() -> None:
    text = """\
flow: marks
languages: [en]
variables:
  unused: {type: string}
start: main
nodes:
  main:
    type: menu
    prompt: Press 1
    options:
      "1": nowhere
    on_no_input: bye
    on_no_match: bye
  bye:
    type: hangup
"""
    flow, diagnostics = load_flow_text(text, "marks.yaml")
    assert flow is not None
    assert any(d.code == "FL301" for d in diagnostics)
    diagram = extract(flow, diagnostics=diagnostics)
    main = diagram.node("main")
    assert main.severity == "error"
    assert main.lines[-1] == "✖ FL301"
    assert any("FL301" in line for line in main.problems)
    assert diagram.node("bye").severity is None
    dot = to_dot(diagram)
    assert "penwidth=3" in dot and "#d32f2f" in dot


def test_global_keys_are_one_note_with_an_arrow_to_where_they_go() -> None:
    flows = Path(__file__).resolve().parents[2] / "flows"
    from ivr.flowlang.project import load_project

    project, _ = load_project([flows])
    orders = project.flows["orders"]
    diagram = extract(orders, service=project.service)
    note = diagram.node("(global keys)")
    assert note.lines[2:] == ("0 agent → order_help", "* back", "# repeat")
    [arrow] = [e for e in diagram.edges if e.source == "(global keys)"]
    assert (arrow.target, arrow.label, arrow.kind, arrow.dashed) == (
        "order_help",  # the orders flow sends its 0 to the orders queue
        "0 agent",
        EdgeKind.KEY,
        True,
    )
    assert diagram.node("order_help").reachable  # reached only by the key
    assert "(global keys)" in to_dot(diagram)
