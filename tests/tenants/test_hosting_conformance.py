"""The hosting part of the frozen conformance corpus (tests/conformance/hosting/): each case
is a hosting file with its tenants, and `ivr check` of it must give exactly the codes of its
EXPECT file (warnings and errors; an empty EXPECT: none at all)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ivr.adapters.hosting.plan import plan_hosting
from ivr.flowlang.diagnostics import Severity, render

ROOT = Path(__file__).parents[1] / "conformance" / "hosting"
CASES = sorted(p for p in ROOT.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_hosting_case_gives_exactly_the_expected_codes(case: Path) -> None:
    plan = plan_hosting(case / "hosting.yaml")
    found = [d for d in plan.diagnostics if d.severity >= Severity.WARNING]
    shown = "\n".join(render(d, plan.sources) for d in found)
    expected = Counter((case / "EXPECT").read_text(encoding="utf-8").split())
    assert Counter(d.code for d in found) == expected, shown
    assert all(Path(d.span.file).resolve().is_relative_to(case.resolve()) for d in found), shown
