"""Queue callback offers (`enqueue` `callback:`): compiled into the IR, checked (FL730-FL732)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.ir import Enqueue
from ivr.flowlang.project import load_project

SERVICE = (
    "service: s\nlanguages: [en]\nqueues: {general: {skills: [a]}}\n"
    'trunks: {carrier: {gateway: "127.0.0.1:5090", channels: 4, reserve: 1, caller_id: "95500"}}\n'
)


def flow(enqueue: str, head: str = "") -> str:
    return (
        f"flow: main\nlanguages: [en]\n{head}start: q\nnodes:\n"
        f"  q: {{type: enqueue, queue: general, {enqueue}, next: z, on_timeout: z}}\n"
        "  z: {type: hangup}\n"
    )


def load(tmp_path: Path, text: str) -> tuple[Enqueue, list[Diagnostic]]:
    (tmp_path / "main.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "service.yaml").write_text(SERVICE, encoding="utf-8")
    project, found = load_project([tmp_path])
    node = project.flows["main"].nodes["q"] if "main" in project.flows else None
    assert isinstance(node, Enqueue)
    return node, found


def codes(found: list[Diagnostic]) -> list[str]:
    return [d.code for d in found]


def test_a_callback_offer_compiles_with_its_key_delay_and_prompts(tmp_path: Path) -> None:
    node, found = load(tmp_path, flow("callback: {key: 2, after: 90s, prompt: Press 2., confirm: Bye.}"))
    assert codes(found) == []
    assert node.callback is not None
    assert (node.callback.key, node.callback.after) == ("2", Decimal(90))
    assert node.callback.prompt is not None and node.callback.confirm is not None


def test_a_bare_callback_offers_key_1_after_a_minute(tmp_path: Path) -> None:
    node, _ = load(tmp_path, flow("callback: {}"))
    assert node.callback is not None and (node.callback.key, node.callback.after) == ("1", Decimal(60))


def test_an_unknown_callback_field_is_a_positioned_schema_error(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text(flow("callback: {key: 1, flow: later}"), encoding="utf-8")
    (tmp_path / "service.yaml").write_text(SERVICE, encoding="utf-8")
    _, found = load_project([tmp_path])
    allowed = "allowed here: key, after, prompt, confirm"
    assert [(d.code, d.span.line, allowed in str(d.hint)) for d in found] == [("FL102", 5, True)]


def test_an_offer_after_max_wait_is_never_heard(tmp_path: Path) -> None:
    _, found = load(tmp_path, flow("max_wait: 60s, callback: {after: 90s}"))
    [warning] = found
    assert warning.code == "FL730" and "after 90s" in warning.message and warning.span.line == 5


def test_a_callback_in_an_outbound_flow_is_an_error(tmp_path: Path) -> None:
    _, found = load(tmp_path, flow("callback: {}", head="outbound: {contact: {}}\n"))
    assert "FL731" in codes(found)


def test_a_callback_key_that_is_a_global_key_is_flagged(tmp_path: Path) -> None:
    head = 'global_keys: {operator: {key: "0", goto: z}}\n'
    _, found = load(tmp_path, flow('callback: {key: "0"}', head=head))
    assert [(d.code, "'operator'" in d.message) for d in found] == [("FL732", True)]


def test_a_callback_without_a_trunk_is_flagged_because_no_offer_would_play(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text(flow("callback: {}"), encoding="utf-8")
    (tmp_path / "service.yaml").write_text(SERVICE.split("trunks:")[0], encoding="utf-8")
    _, found = load_project([tmp_path])
    assert [d.code for d in found] == ["FL733"]
