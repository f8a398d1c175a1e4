"""Run the project's flow tests from the editor and report results and coverage as JSON.

Place: the editor's Tests panel. The same runner as `ivr test` (`ivr.runtime.flowtest`,
each test a call on trio's MockClock), over every `*.test.yaml` of the project, with the
author's unsaved buffer laid over its file. Coverage per flow names the nodes and edges
the tests took, so the drawing can colour nodes covered or not. Synchronous: each test is
its own `trio.run`, so the app runs this in a worker thread.
"""

from __future__ import annotations

from ivr.editor.workspace import Workspace
from ivr.flowlang.diagnostics import Diagnostic
from ivr.runtime.flowtest import run_files
from ivr.runtime.flowtest.report import describe_failure


def run_tests(workspace: Workspace, unsaved: dict[str, str] | None = None) -> dict[str, object]:
    """Every test of the project; `unsaved` maps project-relative paths to buffer text."""
    files = [workspace.absolute(e.path) for e in workspace.tree() if e.kind == "test"]
    texts = {workspace.absolute(path): text for path, text in (unsaved or {}).items()}
    suite = run_files(files, texts=texts)
    results = []
    for result in suite.results:
        span = result.test.span
        results.append(
            {
                "name": result.test.name,
                "file": workspace.relative(span.file),
                "line": span.line,
                "flow": result.test.flow,
                "passed": result.passed,
                "failure": None if result.passed else _relative_text(workspace, describe_failure(result)),
                "path": [{"flow": v.flow, "node": v.node, "edge": v.edge} for v in result.path],
            }
        )
    coverage = {}
    for name, cov in sorted(suite.coverage.flows.items()):
        coverage[name] = {
            "file": workspace.relative(cov.flow.file),
            "nodes": sorted(cov.nodes),
            "all_nodes": list(cov.flow.nodes),
            "edges": sorted(f"{n}.{label}" for n, label in cov.edges),
            "uncovered_nodes": cov.uncovered_nodes(),
            "uncovered_edges": cov.uncovered_edges(),
        }
    return {
        "passed": sum(1 for r in suite.results if r.passed),
        "failed": sum(1 for r in suite.results if not r.passed),
        "results": results,
        "problems": [_diagnostic(workspace, d) for d in suite.diagnostics],
        "coverage": coverage,
    }


def _diagnostic(workspace: Workspace, diagnostic: Diagnostic) -> dict[str, object]:
    body = diagnostic.to_json()
    body["file"] = workspace.relative(diagnostic.span.file)
    return body


def _relative_text(workspace: Workspace, text: str) -> str:
    """Failure text names files by absolute path; the browser knows them relative."""
    return text.replace(str(workspace.root) + "/", "")
