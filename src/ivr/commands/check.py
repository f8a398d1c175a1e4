"""`ivr check PATH...`: load, compile and check flows and the service; print every problem.

A hosting file (or a folder holding `hosting.yaml`) is checked whole: the file, every
tenant's flows, their modules, and the tenants against the file and each other, as `ivr
serve --hosting` would start them. A folder of flows with a service that names a module
has the module loaded and its operations checked too.

Text output is compiler-style (`diagnostics.render`: the source line, a caret and a hint)
followed by a summary line; `--format json` prints one JSON object for editors and CI:
{"diagnostics": [...], "errors": n, "warnings": n, "flows": [...], "files": n}
(with a hosting file "flows" are `tenant/flow`, and "tenants" lists the tenants).
Exit status: 0 clean (warnings allowed unless --strict), 1 errors, 2 usage problems.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ivr.flowlang.diagnostics import Diagnostic, Severity, rank, render
from ivr.flowlang.project import load_project


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="flow files, folders of flows, or a hosting file"
    )
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
    diagnostics, sources, flows, files, tenants = checked
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diagnostics if d.severity is Severity.WARNING)
    if args.format == "json":
        report: dict[str, object] = {
            "diagnostics": [d.to_json() for d in diagnostics],
            "errors": errors,
            "warnings": warnings,
            "flows": flows,
            "files": files,
        }
        if tenants is not None:
            report["tenants"] = tenants
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for d in diagnostics:
            print(render(d, sources))
        print(summary(diagnostics, len(flows), files, tenants))
    failed = errors > 0 or (args.strict and warnings > 0)
    return 1 if failed else 0


Checked = tuple[list[Diagnostic], dict[str, str], list[str], int, list[str] | None]


def _check(paths: list[str]) -> Checked | None:
    """(diagnostics, sources, flow names, file count, tenant names or None), or None after
    printing a usage problem."""
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
        return plan.diagnostics, plan.sources, flows, len(plan.sources), sorted(plan.tenants)
    project, diagnostics = load_project(paths)
    if not project.sources and not diagnostics:
        where = ", ".join(paths)
        print(f"ivr check: no YAML files under {where} (flows are *.yaml files)", file=sys.stderr)
        return None
    diagnostics = rank([*diagnostics, *_module_problems(project, paths)])
    return diagnostics, dict(project.sources), sorted(project.flows), len(project.sources), None


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


def summary(diagnostics: list[Diagnostic], flows: int, files: int, tenants: list[str] | None = None) -> str:
    """ "3 errors, 1 warning in 2 files" or "ok: 4 flows checked" (with any warnings)."""
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diagnostics if d.severity is Severity.WARNING)
    warned = f"{warnings} warning{'' if warnings == 1 else 's'}"
    if errors:
        with_files = len({d.span.file for d in diagnostics if d.severity >= Severity.WARNING})
        files_text = f"{with_files} file{'' if with_files == 1 else 's'}"
        return f"{errors} error{'' if errors == 1 else 's'}, {warned} in {files_text}"
    checked = f"ok: {flows} flow{'' if flows == 1 else 's'} checked"
    if tenants is not None:
        checked += f" in {len(tenants)} tenant{'' if len(tenants) == 1 else 's'} ({', '.join(tenants)})"
    return f"{checked}, {warned}" if warnings else checked
