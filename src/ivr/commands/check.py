"""`ivr check PATH...`: load, compile and check flows and the service; print every problem.

Text output is compiler-style (`diagnostics.render`: the source line, a caret and a hint)
followed by a summary line; `--format json` prints one JSON object for editors and CI:
{"diagnostics": [...], "errors": n, "warnings": n, "flows": [...], "files": n, "test_files": n}.
A file named on its own must be a flow, the service or a flow test (`*.test.yaml`, whose
shape is checked as `ivr test` reads it); anything else there is an error (FL008), while a
folder's other YAML files are skipped with a warning.
Exit status: 0 clean (warnings allowed unless --strict), 1 errors, 2 usage problems.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ivr.flowlang.diagnostics import Diagnostic, Severity, rank, render
from ivr.flowlang.project import TEST_SUFFIXES, load_project
from ivr.runtime.flowtest.loader import load_test_file
from ivr.runtime.flowtest.suite import source_text


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="flow files or folders of flows")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--strict", action="store_true", help="fail (exit 1) on warnings too")


def run(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        for path in missing:
            print(f"ivr check: {path}: no such file or folder", file=sys.stderr)
        return 2
    project, diagnostics = load_project(args.paths)
    sources = dict(project.sources)
    test_files = _named_test_files(args.paths)
    for file in test_files:
        diagnostics += load_test_file(file)[1]
        sources[file] = source_text(file)
    diagnostics = rank(diagnostics)
    if not project.sources and not diagnostics and not test_files:
        where = ", ".join(args.paths)
        print(f"ivr check: no YAML files under {where} (flows are *.yaml files)", file=sys.stderr)
        return 2
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diagnostics if d.severity is Severity.WARNING)
    if args.format == "json":
        report = {
            "diagnostics": [d.to_json() for d in diagnostics],
            "errors": errors,
            "warnings": warnings,
            "flows": sorted(project.flows),
            "files": len(project.sources),
            "test_files": len(test_files),
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for d in diagnostics:
            print(render(d, sources))
        print(summary(diagnostics, len(project.flows), len(project.sources), len(test_files)))
    failed = errors > 0 or (args.strict and warnings > 0)
    return 1 if failed else 0


def _named_test_files(paths: list[str]) -> list[str]:
    """Flow test files named on their own (a folder's test files are left to `ivr test`)."""
    return [str(Path(p)) for p in paths if Path(p).is_file() and Path(p).name.endswith(TEST_SUFFIXES)]


def summary(diagnostics: list[Diagnostic], flows: int, files: int, test_files: int = 0) -> str:
    """ "3 errors, 1 warning in 2 files" or "ok: 4 flows checked" (with any warnings)."""
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diagnostics if d.severity is Severity.WARNING)
    warned = f"{warnings} warning{'' if warnings == 1 else 's'}"
    if errors:
        with_files = len({d.span.file for d in diagnostics if d.severity >= Severity.WARNING})
        files_text = f"{with_files} file{'' if with_files == 1 else 's'}"
        return f"{errors} error{'' if errors == 1 else 's'}, {warned} in {files_text}"
    checked = f"{flows} flow{'' if flows == 1 else 's'}"
    if test_files:
        checked += f" and {test_files} test file{'' if test_files == 1 else 's'}"
    checked = f"ok: {checked} checked"
    return f"{checked}, {warned}" if warnings else checked
