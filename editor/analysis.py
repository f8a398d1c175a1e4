"""Check what the author sees: one buffer, with the rest of the project as saved.

Place: between the browser and flowlang. `analyse` runs the real checker
(`ivr.flowlang.project.load_project`, the buffer laid over the saved file) so the editor
shows exactly what `ivr check` would say once saved: the same codes, messages, hints and
positions. A flow test file is checked by the flow-test loader instead. The result also
carries the compiled flow of the buffer (for drawing and simulating) and an outline: the
lines each node's YAML spans, for "click a node, land on its YAML" and the reverse.
Results are cached by (file, text, the project's files on disk).
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass

from ivr.editor.workspace import Workspace
from ivr.flowlang.diagnostics import Diagnostic, rank
from ivr.flowlang.ir import Flow, Project
from ivr.flowlang.project import LoadCache, load_flow_text, load_project
from ivr.runtime.flowtest.loader import load_test_file

CACHE_SIZE = 16


@dataclass(frozen=True)
class NodeLines:
    """Where one node's YAML sits: its key's line and column, to the last line of its body."""

    id: str
    kind: str
    line: int
    col: int
    end_line: int

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line,
        }


@dataclass(frozen=True)
class Analysis:
    """A checked buffer. `diagnostics` are all of the project's (files relative); `flow` is
    the buffer's compiled flow, if it compiled far enough to have one."""

    file: str
    text: str
    project: Project
    diagnostics: tuple[Diagnostic, ...]
    flow: Flow | None
    outline: tuple[NodeLines, ...]

    def of_file(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.span.file == self.file]

    def to_json(self) -> dict[str, object]:
        mine = self.of_file()
        others = [d for d in self.diagnostics if d.span.file != self.file and d.is_error]
        return {
            "file": self.file,
            "flow": self.flow.name if self.flow else None,
            "languages": list(self.flow.languages) if self.flow else [],
            "diagnostics": [d.to_json() for d in mine],
            "elsewhere": [d.to_json() for d in others],
            "outline": [n.to_json() for n in self.outline],
        }


class Analyser:
    """Analyses buffers of one workspace, remembering the last few results."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._loads = LoadCache()
        self._cache: OrderedDict[tuple[object, ...], Analysis] = OrderedDict()

    def analyse(self, relative: str, text: str) -> Analysis:
        self.workspace.resolve(relative)  # refuses paths outside the project
        key = (relative, hashlib.sha256(text.encode()).digest(), self.workspace.fingerprint())
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        result = self._analyse(relative, text)
        self._cache[key] = result
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    def _analyse(self, relative: str, text: str) -> Analysis:
        ws = self.workspace
        absolute = ws.absolute(relative)
        if relative.endswith((".test.yaml", ".test.yml")):
            _, problems = load_test_file(absolute, text)
            project, _ = load_project([ws.root], {absolute: text}, self._loads)
            return Analysis(relative, text, project, tuple(_relative(ws, problems)), None, ())
        project, found = load_project([ws.root], {absolute: text}, self._loads)
        if not any(os.path.abspath(f) == absolute for f in project.sources):
            # not under the loader's search (a .yml file): check it on its own
            flow, found = load_flow_text(text, absolute, project.service)
        else:
            flow = _flow_of(project, absolute)
            if flow is None and _name_taken(found, absolute):
                flow = load_flow_text(text, absolute, project.service)[0]
        outline = tuple(outline_of(flow, text)) if flow is not None else ()
        return Analysis(relative, text, project, tuple(_relative(ws, found)), flow, outline)


def _flow_of(project: Project, absolute: str) -> Flow | None:
    return next((f for f in project.flows.values() if os.path.abspath(f.file) == absolute), None)


def _name_taken(diagnostics: list[Diagnostic], absolute: str) -> bool:
    """A flow whose name another file took (FL007) was left out of the project."""
    return any(d.code == "FL007" and os.path.abspath(d.span.file) == absolute for d in diagnostics)


def _relative(ws: Workspace, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    out = []
    prefix = str(ws.root) + "/"
    for d in diagnostics:
        span = d.span
        relative = ws.relative(span.file) if os.path.isabs(span.file) else span.file
        out.append(
            Diagnostic(
                d.code,
                d.severity,
                d.message.replace(prefix, ""),
                type(span)(relative, span.line, span.col, span.end_line, span.end_col),
                d.hint.replace(prefix, "") if d.hint else None,
                d.yaml_path,
                d.node_id,
            )
        )
    return rank(out)


def outline_of(flow: Flow, text: str) -> list[NodeLines]:
    """Each node's lines: from its key to the line before the next node, or to where the
    `nodes:` block ends (the first later line indented less than the node's key)."""
    lines = text.split("\n")
    starts = sorted(flow.nodes.values(), key=lambda n: (n.span.line, n.span.col))
    result: list[NodeLines] = []
    for index, node in enumerate(starts):
        line, col = node.span.line, node.span.col
        end = starts[index + 1].span.line - 1 if index + 1 < len(starts) else _block_end(lines, line, col)
        while end > line and not _content(lines[end - 1]):
            end -= 1
        result.append(NodeLines(node.id, node.kind, line, col, max(end, line)))
    return result


def _block_end(lines: list[str], line: int, col: int) -> int:
    for number in range(line + 1, len(lines) + 1):
        text = lines[number - 1]
        if _content(text) and len(text) - len(text.lstrip(" ")) < col - 1:
            return number - 1
    return len(lines)


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")
