"""`ivr check PATH...`: load, compile and check flows and the service; print every problem.

Text output is compiler-style (`diagnostics.render`: the source line, a caret and a hint)
followed by a summary line; `--format json` prints one JSON object for editors and CI:
{"diagnostics": [...], "errors": n, "warnings": n, "flows": [...], "files": n}.
Exit status: 0 clean (warnings allowed unless --strict), 1 errors, 2 usage problems.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ivr.flowlang.diagnostics import Diagnostic, Severity, render
from ivr.flowlang.project import load_project


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
    if not project.sources and not diagnostics:
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
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for d in diagnostics:
            print(render(d, project.sources))
        print(summary(diagnostics, len(project.flows), len(project.sources)))
    failed = errors > 0 or (args.strict and warnings > 0)
    return 1 if failed else 0


def summary(diagnostics: list[Diagnostic], flows: int, files: int) -> str:
    """ "3 errors, 1 warning in 2 files" or "ok: 4 flows checked" (with any warnings)."""
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diagnostics if d.severity is Severity.WARNING)
    warned = f"{warnings} warning{'' if warnings == 1 else 's'}"
    if errors:
        with_files = len({d.span.file for d in diagnostics if d.severity >= Severity.WARNING})
        files_text = f"{with_files} file{'' if with_files == 1 else 's'}"
        return f"{errors} error{'' if errors == 1 else 's'}, {warned} in {files_text}"
    checked = f"ok: {flows} flow{'' if flows == 1 else 's'} checked"
    return f"{checked}, {warned}" if warnings else checked
