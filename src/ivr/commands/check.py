"""`ivr check PATH...`: load, compile and check flows and the service; print every problem.

A hosting file (or a folder holding `hosting.yaml`) is checked whole: the file, every
tenant's flows, their modules, and the tenants against the file and each other, as `ivr
serve --hosting` would start them. A folder of flows with a service that names a module
has the module loaded and its operations checked too.

Text output is compiler-style (`diagnostics.render`: the source line, a caret and a hint)
followed by a summary line; `--format json` prints one JSON object for editors and CI:
{"diagnostics": [...], "errors": n, "warnings": n, "flows": [...], "files": n, "test_files": n}
(with a hosting file "flows" are `tenant/flow`, and "tenants" lists the tenants).
A file named on its own must be a flow, the service or a flow test (`*.test.yaml`, whose
shape is checked as `ivr test` reads it); anything else there is an error (FL008), while a
folder's other YAML files are skipped with a warning.
Exit status: 0 clean (warnings allowed unless --strict), 1 errors, 2 usage problems.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
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
    checked = _check(args.paths)
    if checked is None:
        return 2
    diagnostics = checked.diagnostics
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diagnostics if d.severity is Severity.WARNING)
    if args.format == "json":
        report: dict[str, object] = {
            "diagnostics": [d.to_json() for d in diagnostics],
            "errors": errors,
            "warnings": warnings,
            "flows": checked.flows,
            "files": checked.files,
            "test_files": checked.test_files,
        }
        if checked.tenants is not None:
            report["tenants"] = checked.tenants
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for d in diagnostics:
            print(render(d, checked.sources))
        print(summary(diagnostics, len(checked.flows), checked.files, checked.tenants, checked.test_files))
    failed = errors > 0 or (args.strict and warnings > 0)
    return 1 if failed else 0


@dataclass
class Checked:
    """What one `ivr check` found: diagnostics ranked, the texts to quote, what was checked."""

    diagnostics: list[Diagnostic]
    sources: dict[str, str]
    flows: list[str]
    files: int
    tenants: list[str] | None = None  # with a hosting file
    test_files: int = 0  # flow test files named on their own


def _check(paths: list[str]) -> Checked | None:
    """What the paths hold, checked; None after printing a usage problem."""
    from ivr.adapters.hosting.plan import hosting_file_of, plan_hosting

    hosting = [h for p in paths if (h := hosting_file_of(Path(p))) is not None]
    if hosting:
        if len(paths) > 1:
            print(
                "ivr check: check a hosting file on its own (it names its tenants' folders)", file=sys.stderr
            )
            return None
        plan = plan_hosting(hosting[0])
        flows = sorted(f"{name}/{flow}" for name, t in plan.tenants.items() for flow in t.project.flows)
        return Checked(plan.diagnostics, plan.sources, flows, len(plan.sources), sorted(plan.tenants))
    project, diagnostics = load_project(paths)
    sources = dict(project.sources)
    test_files = _named_test_files(paths)
    for file in test_files:
        diagnostics += load_test_file(file)[1]
        sources[file] = source_text(file)
    if not project.sources and not diagnostics and not test_files:
        where = ", ".join(paths)
        print(f"ivr check: no YAML files under {where} (flows are *.yaml files)", file=sys.stderr)
        return None
    diagnostics = rank([*diagnostics, *_module_problems(project, paths)])
    return Checked(
        diagnostics, sources, sorted(project.flows), len(project.sources), test_files=len(test_files)
    )


def _named_test_files(paths: list[str]) -> list[str]:
    """Flow test files named on their own (a folder's test files are left to `ivr test`)."""
    return [str(Path(p)) for p in paths if Path(p).is_file() and Path(p).name.endswith(TEST_SUFFIXES)]


def _module_problems(project: object, paths: list[str]) -> list[Diagnostic]:
    """The service's module loaded and its operations checked (FL810, FL811)."""
    from ivr.adapters.hosting.modules import module_diagnostics
    from ivr.flowlang.ir import Project

    assert isinstance(project, Project)
    service = project.service
    if service is None or (
        service.module is None and not any(o.backend == "module" for o in service.operations.values())
    ):
        return []
    _, found = module_diagnostics(service, Path(service.file).parent, service.name)
    return found


def summary(
    diagnostics: list[Diagnostic],
    flows: int,
    files: int,
    tenants: list[str] | None = None,
    test_files: int = 0,
) -> str:
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
    if tenants is not None:
        checked += f" in {len(tenants)} tenant{'' if len(tenants) == 1 else 's'} ({', '.join(tenants)})"
    return f"{checked}, {warned}" if warnings else checked
