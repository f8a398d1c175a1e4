"""A user mistake never raises: random text and mutated valid flows only give diagnostics."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.ir import Flow
from ivr.flowlang.project import load_flow_text

VALID = (Path(__file__).parents[2] / "tests" / "conformance" / "valid" / "main.yaml").read_text(
    encoding="utf-8"
)
LINES = VALID.splitlines()
YAMLISH = st.sampled_from(
    [
        ":",
        " ",
        "\n",
        "-",
        "{",
        "}",
        "[",
        "]",
        "#",
        "'",
        '"',
        ",",
        "no",
        "1",
        "type",
        "next",
        "{x}",
        "|",
        "*",
        "&a",
        "!!",
    ]
)


def only_diagnostics(result: tuple[Flow | None, list[Diagnostic]]) -> None:
    flow, found = result
    assert flow is None or isinstance(flow, Flow)
    assert all(isinstance(d, Diagnostic) for d in found)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    only_diagnostics(load_flow_text(text, "fuzz.yaml"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(YAMLISH, max_size=60).map("".join))
def test_yaml_like_text(text: str) -> None:
    only_diagnostics(load_flow_text("flow: f\nnodes:\n  a: " + text, "fuzz.yaml"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, len(LINES) - 1),
    st.integers(0, 40),
    st.sampled_from(["delete", "insert", "replace"]),
    st.text(alphabet=st.sampled_from(list(" :-{}[]#'\",01yesnotypenext|&*!")), max_size=8),
)
def test_mutated_valid_flow(line: int, col: int, how: str, piece: str) -> None:
    lines = list(LINES)
    target = lines[line]
    col = min(col, len(target))
    if how == "delete":
        lines[line] = target[:col] + target[col + len(piece) :]
    elif how == "insert":
        lines[line] = target[:col] + piece + target[col:]
    else:
        lines[line] = piece
    only_diagnostics(load_flow_text("\n".join(lines), "fuzz.yaml"))
