"""Reading YAML is bounded: alias bombs, recursive aliases, huge and deep documents are
refused with a positioned diagnostic at the alias or value that passes the limit, before
anything expands them; documents within the limits read as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.flowlang import yamllimits
from ivr.flowlang.project import load_project
from ivr.flowlang.yamlsource import load_yaml
from ivr.runtime.flowtest.loader import load_test_file


def laughs(levels: int, width: int = 9) -> str:
    """The "billion laughs": level i is a list of `width` aliases of level i - 1."""
    lines = ["flow: bomb", f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_at_the_alias_that_passes_the_limit() -> None:
    loaded = load_yaml(laughs(6), "bomb.yaml")
    [diag] = loaded.diagnostics
    assert loaded.data is None
    assert diag.code == "FL013" and diag.is_error
    # a5's first *a4 (66,430 values) takes the count past 100,000
    assert (diag.span.line, diag.span.col, diag.span.end_col) == (7, 10, 13)
    assert "*a4 repeats 66,430 values" in diag.message
    assert diag.hint and "anchor" in diag.hint


def test_ivr_check_refuses_a_ten_level_bomb_and_exits_1(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs(10))
    # before the limit this ran until killed; the timeout only matters on failure
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "check", str(bomb)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert f"{bomb}:7:10: error[FL013]:" in done.stdout
    assert "Traceback" not in done.stderr


def test_recursive_alias_is_refused_where_it_is_used() -> None:
    loaded = load_yaml("flow: x\nloop: &a [1, *a, *a]\n", "f.yaml")
    [diag] = loaded.diagnostics
    assert (diag.code, diag.span.line, diag.span.col) == ("FL002", 2, 14)
    assert "*a is inside the anchor &a" in diag.message


def test_recursive_alias_in_a_mapping_is_refused() -> None:
    loaded = load_yaml("root: &r\n  left: *r\n  right: *r\n", "f.yaml")
    assert [(d.code, d.span.line) for d in loaded.diagnostics] == [("FL002", 2)]


def test_plain_document_past_the_limit_is_refused_at_the_first_value_past_it() -> None:
    count = yamllimits.MAX_NODES
    text = "items:\n" + "".join(f"- {i}\n" for i in range(count))
    [diag] = load_yaml(text, "big.yaml").diagnostics
    # root mapping + key + list = 3 values, so item number MAX_NODES - 2 (from 1) is one too many
    assert diag.code == "FL013"
    assert (diag.span.line, diag.span.col) == (count - 1, 3)


def test_nesting_past_the_limit_is_refused_where_it_starts() -> None:
    depth = yamllimits.MAX_DEPTH + 1
    text = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "leaf\n"
    [diag] = load_yaml(text, "deep.yaml").diagnostics
    assert diag.code == "FL002" and "deeper than 100" in diag.message
    assert diag.span.line == depth


def test_text_longer_than_the_limit_is_refused() -> None:
    [diag] = load_yaml("a: " + "x" * yamllimits.MAX_CHARS, "long.yaml").diagnostics
    assert diag.code == "FL004"


def test_aliases_and_merges_within_the_limit_still_expand() -> None:
    text = (
        "base: &b {lang: en, tries: 2}\ncopy: *b\nmerged:\n  <<: *b\n  next: menu\n"
        "list: &l [1, 2]\nagain: *l\n"
    )
    loaded = load_yaml(text, "f.yaml")
    assert loaded.diagnostics == []
    assert loaded.data == {
        "base": {"lang": "en", "tries": 2},
        "copy": {"lang": "en", "tries": 2},
        "merged": {"lang": "en", "tries": 2, "next": "menu"},
        "list": [1, 2],
        "again": [1, 2],
    }


def test_a_bomb_in_the_service_file_is_refused_by_the_project_loader(tmp_path: Path) -> None:
    (tmp_path / "service.yaml").write_text(laughs(10).replace("flow: bomb", "service: bomb"))
    _, found = load_project([tmp_path])
    assert [(d.code, d.span.line) for d in found if d.is_error] == [("FL013", 7)]


def test_a_bomb_in_a_flow_test_file_is_refused(tmp_path: Path) -> None:
    test_file = tmp_path / "bomb.test.yaml"
    test_file.write_text(laughs(10).replace("flow: bomb", "tests: []"))
    tests, found = load_test_file(str(test_file))
    assert tests is None
    assert [d.code for d in found] == ["FL013"]


def _expanded_size(node: yaml.Node) -> int:
    """Values a tree walk of `node` meets (aliases expanded), merges included."""
    if isinstance(node, yaml.SequenceNode):
        return 1 + sum(_expanded_size(child) for child in node.value)
    if isinstance(node, yaml.MappingNode):
        return 1 + sum(_expanded_size(k) + _expanded_size(v) for k, v in node.value)
    return 1


def _alias_document(widths: list[int]) -> str:
    lines = ["a0: &a0 x"]
    for i, width in enumerate(widths, start=1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=6), st.integers(5, 400))
def test_refused_exactly_when_the_expanded_document_passes_the_limit(widths: list[int], limit: int) -> None:
    text = _alias_document(widths)
    size = _expanded_size(yaml.compose(text, Loader=yaml.SafeLoader))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yamllimits, "MAX_NODES", limit)
        loaded = load_yaml(text, "f.yaml")
    assert [d.code for d in loaded.diagnostics] == ([] if size <= limit else ["FL013"])
