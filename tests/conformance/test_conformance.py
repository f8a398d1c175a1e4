"""The frozen conformance corpus: every file under valid/ and invalid/ is checked together
with service.yaml and the flows in lib/, and must give exactly the codes of its
`# expect:` header (valid files: no errors; an empty header means no diagnostics at all).
An invalid case also says where its mistake is (`# at: LINE`) and what the fix is
(`# fix: TEXT`): a diagnostic of an expected code must be on that line with a hint that
contains the text (scripts/diagnostic_quality.py measures the share of the corpus).
Files here are frozen: a change of verdict is a change of the language."""

from __future__ import annotations

import re
import runpy
from collections import Counter
from pathlib import Path

import pytest

from ivr.flowlang.catalogue import CATALOGUE
from ivr.flowlang.diagnostics import Severity, render
from ivr.flowlang.project import load_project

ROOT = Path(__file__).parent
CASES = sorted(p for folder in ("valid", "invalid") for p in (ROOT / folder).glob("*.y*ml"))
EXPECT = re.compile(r"#\s*expect:(.*)")
HEADER = re.compile(r"^#\s*(at|fix):\s?(.*)$", re.MULTILINE)
PROJECTS = sorted(p for p in (ROOT / "projects").iterdir() if p.is_dir())
HOSTING = sorted(p for p in (ROOT / "hosting").iterdir() if p.is_dir())  # run by tests/tenants


def expected_codes(case: Path) -> Counter[str]:
    match = EXPECT.match(case.read_bytes().decode("utf-8", errors="replace"))
    assert match, f"{case.name} has no `# expect:` header on its first line"
    return Counter(match.group(1).split())


def header(case: Path) -> dict[str, str]:
    """The `# at:` and `# fix:` lines of the comment block that opens a case."""
    text = case.read_bytes().decode("utf-8", errors="replace")
    opening = "\n".join(line for line in text.splitlines()[:6] if line.startswith("#"))
    return {key: value.rstrip() for key, value in HEADER.findall(opening)}


INVALID = [case for case in CASES if case.parent.name == "invalid"]


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.stem)
def test_mistake_is_reported_on_its_line_with_a_hint_naming_the_fix(case: Path) -> None:
    wanted = header(case)
    if "at" not in wanted:
        pytest.skip("the case does not say where its mistake is")
    project, diagnostics = load_project([ROOT / "service.yaml", ROOT / "lib", case])
    shown = "\n".join(render(d, project.sources) for d in diagnostics)
    codes = set(expected_codes(case))
    on_line = [d for d in diagnostics if d.code in codes and d.span.line == int(wanted["at"])]
    assert on_line, f"nothing on line {wanted['at']}:\n{shown}"
    assert any(wanted["fix"] in (d.hint or "") for d in on_line), f"no hint with {wanted['fix']!r}:\n{shown}"


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_case_gives_exactly_the_expected_codes(case: Path) -> None:
    project, diagnostics = load_project([ROOT / "service.yaml", ROOT / "lib", case])
    shown = "\n".join(render(d, project.sources) for d in diagnostics)
    assert Counter(d.code for d in diagnostics) == expected_codes(case), shown
    assert all(d.span.file == str(case) for d in diagnostics), shown
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if case.parent.name == "valid":
        assert not errors, shown
    else:
        assert errors or any(d.severity is Severity.WARNING for d in diagnostics)


def test_every_expected_code_is_in_the_catalogue() -> None:
    for case in CASES:
        assert set(expected_codes(case)) <= set(CATALOGUE), case.name


def test_the_service_and_library_are_clean() -> None:
    _, diagnostics = load_project([ROOT / "service.yaml", ROOT / "lib"])
    assert diagnostics == []


@pytest.mark.parametrize("case", PROJECTS, ids=lambda p: f"projects/{p.name}")
def test_project_case_gives_exactly_the_expected_codes(case: Path) -> None:
    """Whole-project mistakes (two services, a flow name used twice, a broken link, a number
    routed nowhere): each folder is checked alone against the codes in its EXPECT file."""
    project, diagnostics = load_project([case])
    shown = "\n".join(render(d, project.sources) for d in diagnostics)
    codes, wanted = project_expectations(case)
    assert Counter(d.code for d in diagnostics) == codes, shown
    assert all(d.span.file.startswith(str(case)) for d in diagnostics), shown
    file, _, line = wanted["at"].partition(":")
    on_line = [d for d in diagnostics if d.span.file == str(case / file) and d.span.line == int(line)]
    assert on_line, f"nothing at {wanted['at']}:\n{shown}"
    assert any(wanted["fix"] in (d.hint or "") for d in on_line), f"no hint with {wanted['fix']!r}:\n{shown}"


def project_expectations(case: Path) -> tuple[Counter[str], dict[str, str]]:
    """EXPECT: the codes on the first line, then `at: FILE:LINE` and `fix: TEXT` lines."""
    first, *rest = (case / "EXPECT").read_text(encoding="utf-8").splitlines()
    wanted = dict(line.split(": ", 1) for line in rest if ": " in line)
    return Counter(first.split()), wanted


def test_a_missing_path_is_reported_not_raised() -> None:
    _, diagnostics = load_project([ROOT / "projects" / "no-such-folder"])
    assert [d.code for d in diagnostics] == ["FL005"]


def test_the_corpus_exercises_every_catalogued_code() -> None:
    seen: set[str] = set()
    for case in CASES:
        seen |= set(expected_codes(case))
    for case in PROJECTS:
        seen |= set(project_expectations(case)[0])
    for case in HOSTING:
        seen |= set((case / "EXPECT").read_text(encoding="utf-8").split())
    seen.add("FL005")  # a path that does not exist: see the test above
    seen.add("FL813")  # only a publish can change the module: tests/tenants/test_seats_and_publishing.py
    assert sorted(set(CATALOGUE) - seen) == []


def test_the_quality_script_measures_the_corpus_and_the_held_out_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """scripts/diagnostic_quality.py, whose figures the README quotes, runs and finds no valid
    flow rejected."""
    script = runpy.run_path(str(ROOT.parents[1] / "scripts" / "diagnostic_quality.py"))
    assert script["main"](["--corpus", str(ROOT), "--flows", str(ROOT.parents[1] / "flows")]) == 0
    held_out = ROOT.parents[1] / "benchmarks" / "mistakes"
    no_flows = str(ROOT / "no-such-folder")
    assert script["main"](["--corpus", str(ROOT), "--cases", str(held_out), "--flows", no_flows]) == 0
    assert "on the right line with a hint that names the fix (100%)" in capsys.readouterr().out
