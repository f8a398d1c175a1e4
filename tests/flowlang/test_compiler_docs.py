"""Every ```yaml example of docs/language.md compiles: whole flows and the service file as
they are, node snippets wrapped into a minimal two-language flow, prompt examples as `say`
prompts. Every node kind must have an example."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from ivr.flowlang.compile import compile_flow, compile_service
from ivr.flowlang.ir import NODE_KINDS
from ivr.flowlang.yamlsource import load_yaml

DOC = Path(__file__).parents[2] / "docs" / "language.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _wrap_nodes(block: str) -> str:
    first = next(line.split(":")[0] for line in block.splitlines() if line and not line.startswith(" "))
    head = f"flow: doc_example\nlanguages: [zh, en]\nstart: {first}\nnodes:\n"
    return head + textwrap.indent(block, "  ")


def _wrap_prompts(block: str) -> str:
    """`name:` + indented language lines become `name: {type: say, prompt: ...}` nodes."""
    lines = []
    for line in block.splitlines():
        if line and not line.startswith(" "):
            lines += [line, "  type: say", "  prompt:"]
        else:
            lines.append("  " + line)
    return _wrap_nodes("\n".join(lines) + "\n")


def _wrap_flow_part(block: str) -> str:
    """Top-level flow fields (`global_keys`, `context`) in a minimal flow."""
    return f"flow: doc_example\nlanguages: [zh, en]\n{block}start: a\nnodes:\n  a: {{type: hangup}}\n"


def _kind(block: str, data: object) -> str:
    if all(not line.strip() or line.lstrip().startswith("#") for line in block.splitlines()):
        return "comment"
    if not isinstance(data, dict):
        return "broken"
    if "tests" in data:
        return "comment"  # a flow test file: tests/runtime/test_global_keys_docs.py runs it
    if data and set(data) <= {"global_keys", "context"}:
        return "flow_part"
    if "flow" in data:
        return "flow"
    if "service" in data:
        return "service"
    if all(isinstance(v, dict) and "type" in v for v in data.values()):
        return "nodes"
    return "prompts"


def _compile(text: str, kind: str) -> list[str]:
    loaded = load_yaml(text, "docs/language.md")
    assert not loaded.diagnostics, [f"{d.span}: {d.message}" for d in loaded.diagnostics]
    if kind == "service":
        _, found = compile_service(loaded.data, loaded.source_map, "docs/language.md")
    else:
        flow, found = compile_flow(loaded.data, loaded.source_map, "docs/language.md")
        assert flow is not None
        assert len(flow.nodes) == len(loaded.data["nodes"])  # type: ignore[index]
    return [f"{d.span}: {d.code} {d.message}" for d in found]


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_every_yaml_example_compiles_without_diagnostics(block: str) -> None:
    kind = _kind(block, load_yaml(block, "doc").data)
    if kind == "comment":
        return
    text = {"nodes": _wrap_nodes, "prompts": _wrap_prompts, "flow_part": _wrap_flow_part}.get(
        kind, lambda b: b
    )(block)
    assert _compile(text, kind) == [], text


def test_every_node_kind_has_an_example() -> None:
    shown: set[str] = set()
    for block in BLOCKS:
        data = load_yaml(block, "doc").data
        if _kind(block, data) == "nodes" and isinstance(data, dict):
            shown.update(str(node["type"]) for node in data.values())
    assert shown == set(NODE_KINDS)
