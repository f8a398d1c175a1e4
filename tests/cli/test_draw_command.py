"""`ivr draw` end to end: YAML files in a temporary project folder in, images and messages out."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr.commands import draw

SERVICE = """\
service: demo
languages: [zh, en]
operations:
  get_quote:
    backend: python
    function: ivr.adapters.brokerage.operations:get_quote
    params: [code]
    returns: [found, name, last]
"""

MAIN = """\
flow: main
languages: [zh, en]
variables:
  code: {type: string}
  quote: {type: any}
start: welcome
nodes:
  welcome:
    type: say
    prompt: {zh: 欢迎致电, en: Welcome}
    next: menu
  menu:
    type: menu
    prompt: {zh: 查询行情请按1，登录请按2, en: "For quotes press 1, to log in press 2"}
    options:
      "1": ask_code
      "2": login
    on_no_input: bye
    on_no_match: bye
  ask_code:
    type: collect
    prompt: {zh: 请输入股票代码, en: Enter the code}
    into: code
    min_length: 6
    max_length: 6
    next: fetch
    on_no_input: bye
  fetch:
    type: lookup
    operation: get_quote
    args: {code: code}
    assign: {quote: result}
    next: route
    on_error: bye
    on_timeout: bye
  route:
    type: branch
    cases:
      - if: quote.found
        next: bye
    else: menu
  login:
    type: subflow
    flow: authenticate
    next: menu
  bye:
    type: hangup
    prompt: {zh: 再见, en: Goodbye}
"""

AUTH = """\
flow: authenticate
languages: [zh, en]
start: done
nodes:
  done:
    type: return
    outcome: ok
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "flows"
    root.mkdir()
    (root / "service.yaml").write_text(SERVICE, encoding="utf-8")
    (root / "main.yaml").write_text(MAIN, encoding="utf-8")
    (root / "auth.yaml").write_text(AUTH, encoding="utf-8")
    return root


def ivr_draw(*argv: str | Path) -> int:
    parser = argparse.ArgumentParser(prog="ivr draw")
    draw.configure(parser)
    return draw.run(parser.parse_args([str(a) for a in argv]))


@pytest.mark.graphviz
def test_draws_a_flow_file_to_svg(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "main.svg"
    assert ivr_draw(project / "main.yaml", "-o", out) == 0
    root = ET.fromstring(out.read_bytes())
    titles = {el.text for el in root.iter("{http://www.w3.org/2000/svg}title")}
    assert {"welcome", "menu", "ask_code", "fetch", "route", "login", "bye"} <= titles
    assert "欢迎致电" in out.read_text(encoding="utf-8")


@pytest.mark.graphviz
def test_draws_a_flow_file_to_png(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "main.png"
    assert ivr_draw(project / "main.yaml", "-o", out, "--lang", "en") == 0
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_without_output_prints_dot(project: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert ivr_draw(project / "main.yaml") == 0
    dot = capsysbinary.readouterr().out.decode("utf-8")
    assert dot.startswith("// flow main") or "digraph main {" in dot
    assert "menu -> ask_code [label=<1>" in dot
    assert "shape=hexagon" in dot


def test_lang_picks_the_prompt_language(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "main.dot"
    assert ivr_draw(project / "main.yaml", "--lang", "en", "-o", out) == 0
    assert "For quotes press 1" in out.read_text(encoding="utf-8")


def test_an_unknown_language_warns_and_draws_the_first(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "main.dot"
    assert ivr_draw(project / "main.yaml", "--lang", "fr", "-o", out) == 0
    assert "has no language 'fr'" in capsys.readouterr().err
    assert "欢迎致电" in out.read_text(encoding="utf-8")


def test_a_flow_is_picked_by_hash_name_or_flow_option(project: Path, tmp_path: Path) -> None:
    assert ivr_draw(f"{project}#authenticate", "-o", tmp_path / "a.dot") == 0
    assert "digraph authenticate" in (tmp_path / "a.dot").read_text(encoding="utf-8")
    assert ivr_draw(project, "--flow", "main", "-o", tmp_path / "m.dot") == 0
    assert "digraph main" in (tmp_path / "m.dot").read_text(encoding="utf-8")


def test_subflow_node_links_to_the_other_flow_file(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "main.dot"
    assert ivr_draw(project / "main.yaml", "-o", out) == 0
    assert 'URL="flows/auth.yaml"' in out.read_text(encoding="utf-8")


def test_a_folder_of_many_flows_needs_a_name(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ivr_draw(project) == 2
    err = capsys.readouterr().err
    assert "holds 2 flows (authenticate, main)" in err and "--flow NAME" in err


def test_an_unknown_flow_name_suggests_one(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ivr_draw(project, "--flow", "mian") == 2
    assert "no flow named 'mian'" in capsys.readouterr().err


def test_a_bad_path_exits_2_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ivr_draw(tmp_path / "nope.yaml", "-o", tmp_path / "x.svg") == 2
    err = capsys.readouterr().err
    assert "no such file or folder" in err and "Traceback" not in err


def test_an_unknown_extension_exits_2(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ivr_draw(project / "main.yaml", "-o", tmp_path / "x.jpg") == 2
    assert "cannot tell the format" in capsys.readouterr().err


def test_missing_dot_is_a_clear_message(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert ivr_draw(project / "main.yaml", "-o", tmp_path / "x.svg") == 2
    assert "Graphviz `dot` not found; install the graphviz package" in capsys.readouterr().err
    assert not (tmp_path / "x.svg").exists()


def test_a_flow_with_errors_is_still_drawn(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = MAIN.replace("next: menu\n  menu:", "next: menuu\n  menu:")
    (project / "main.yaml").write_text(broken, encoding="utf-8")
    out = tmp_path / "main.dot"
    assert ivr_draw(project / "main.yaml", "-o", out) == 0
    err = capsys.readouterr().err
    assert "main.yaml:" in err and "error[" in err and "menuu" in err
    dot = out.read_text(encoding="utf-8")
    assert "welcome -> menuu" in dot and "missing node" in dot


def test_a_file_without_a_flow_exits_1_with_diagnostics(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "main.yaml").write_text("flow: main\nnodes: [\n", encoding="utf-8")
    assert ivr_draw(project / "main.yaml", "-o", tmp_path / "x.svg") == 1
    err = capsys.readouterr().err
    assert "main.yaml:" in err and "error[" in err
    assert not (tmp_path / "x.svg").exists()


@pytest.mark.graphviz
def test_all_draws_every_flow_into_a_folder(project: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "graphs"
    assert ivr_draw("--all", project, "-o", out_dir) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["authenticate.svg", "main.svg"]
    svg = (out_dir / "main.svg").read_text(encoding="utf-8")
    ET.fromstring(svg)
    assert 'href="authenticate.svg"' in svg


def test_all_wants_a_folder_not_a_file(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ivr_draw("--all", project, "-o", tmp_path / "x.svg") == 2
    assert "-o names a folder" in capsys.readouterr().err
