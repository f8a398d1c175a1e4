"""Runs test files: loads each file's project once, runs its tests, gathers coverage."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.ir import Project
from ivr.flowlang.project import load_project
from ivr.runtime.flowtest.coverage import Coverage
from ivr.runtime.flowtest.loader import load_test_file
from ivr.runtime.flowtest.runner import CaseResult, run_case

SUFFIX = ".test.yaml"


@dataclass
class SuiteResult:
    results: list[CaseResult] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    coverage: Coverage = field(default_factory=Coverage)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results) and not any(d.is_error for d in self.diagnostics)


def find_test_files(paths: Sequence[str]) -> list[str]:
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        found += sorted(str(p) for p in path.rglob(f"*{SUFFIX}")) if path.is_dir() else [str(path)]
    return found


def run_files(
    files: Sequence[str], *, only: str | None = None, texts: Mapping[str, str] | None = None
) -> SuiteResult:
    """Run the tests of `files`. `texts` maps files (absolute paths) to unsaved text used
    instead of the disk's, for test files and flows alike (the editor's buffers)."""
    suite = SuiteResult()
    unsaved = {os.path.abspath(f): t for f, t in (texts or {}).items()}
    projects: dict[tuple[str, ...], Project | None] = {}
    for file in files:
        text = unsaved.get(os.path.abspath(file))
        loaded, problems = load_test_file(file, text)
        suite.sources[file] = text if text is not None else source_text(file)
        suite.diagnostics += problems
        if loaded is None:
            continue
        if loaded.project not in projects:
            projects[loaded.project] = _load(loaded.project, suite, unsaved)
        project = projects[loaded.project]
        if project is None:
            continue
        for test in loaded.tests:
            if only is None or only in test.name:
                result = run_case(project, test)
                suite.results.append(result)
                suite.coverage.add_path(result.path)
    return suite


def source_text(file: str) -> str:
    """A file's text for quoting lines in diagnostics ("" when it cannot be read)."""
    try:
        return Path(file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _load(paths: tuple[str, ...], suite: SuiteResult, texts: Mapping[str, str]) -> Project | None:
    project, problems = load_project(list(paths), texts)
    errors = [d for d in problems if d.is_error]
    suite.diagnostics += errors
    suite.sources.update(project.sources)
    if errors:
        return None
    suite.coverage.add_flows(project.flows.values())
    return project
