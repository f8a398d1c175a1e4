"""The frozen conformance corpus: every file under valid/ and invalid/ is checked together
with service.yaml and the flows in lib/, and must give exactly the codes of its
`# expect:` header (valid files: no errors; an empty header means no diagnostics at all).
Files here are frozen: a change of verdict is a change of the language."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from ivr.flowlang.catalogue import CATALOGUE
from ivr.flowlang.diagnostics import Severity, render
from ivr.flowlang.project import load_project

ROOT = Path(__file__).parent
CASES = sorted((ROOT / "valid").glob("*.yaml")) + sorted((ROOT / "invalid").glob("*.yaml"))
EXPECT = re.compile(r"#\s*expect:(.*)")
PROJECTS = sorted(p for p in (ROOT / "projects").iterdir() if p.is_dir())
HOSTING = sorted(p for p in (ROOT / "hosting").iterdir() if p.is_dir())  # run by tests/tenants


def expected_codes(case: Path) -> Counter[str]:
    match = EXPECT.match(case.read_bytes().decode("utf-8", errors="replace"))
    assert match, f"{case.name} has no `# expect:` header on its first line"
    return Counter(match.group(1).split())


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
    expected = Counter((case / "EXPECT").read_text(encoding="utf-8").split())
    assert Counter(d.code for d in diagnostics) == expected, shown
    assert all(d.span.file.startswith(str(case)) for d in diagnostics), shown


def test_a_missing_path_is_reported_not_raised() -> None:
    _, diagnostics = load_project([ROOT / "projects" / "no-such-folder"])
    assert [d.code for d in diagnostics] == ["FL005"]


def test_the_corpus_exercises_every_catalogued_code() -> None:
    seen: set[str] = set()
    for case in CASES:
        seen |= set(expected_codes(case))
    for case in PROJECTS:
        seen |= set((case / "EXPECT").read_text(encoding="utf-8").split())
    for case in HOSTING:
        seen |= set((case / "EXPECT").read_text(encoding="utf-8").split())
    seen.add("FL005")  # a path that does not exist: see the test above
    seen.add("FL813")  # only a publish can change the module: tests/tenants/test_seats_and_publishing.py
    assert sorted(set(CATALOGUE) - seen) == []
