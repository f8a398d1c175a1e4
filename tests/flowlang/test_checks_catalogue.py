"""The catalogue covers every code the checker can emit, and docs/errors.md is generated
from it."""

from __future__ import annotations

import re
from pathlib import Path

from ivr.flowlang.catalogue import CATALOGUE, errors_markdown, lookup, render_entry

ROOT = Path(__file__).parents[2]
SOURCES = [*ROOT.joinpath("flowlang").rglob("*.py"), *ROOT.joinpath("src", "ivr", "commands").glob("*.py")]
CODE = re.compile(r"\bFL\d{3}\b")


def test_docs_errors_md_is_generated_from_the_catalogue() -> None:
    assert (ROOT / "docs" / "errors.md").read_text(encoding="utf-8") == errors_markdown(), (
        "run: python -m ivr.flowlang.catalogue > docs/errors.md"
    )


def test_every_code_in_the_source_is_catalogued() -> None:
    used = {
        code for path in SOURCES if path.name != "catalogue.py" for code in CODE.findall(path.read_text())
    }
    assert used - set(CATALOGUE) == set()


def test_every_catalogued_code_is_exercised_by_a_test() -> None:
    tests = ROOT / "tests"
    files = [p for p in [*tests.rglob("*.py"), *tests.rglob("*.yaml"), *tests.rglob("EXPECT")] if p.is_file()]
    text = "".join(p.read_bytes().decode("utf-8", errors="replace") for p in files)
    assert {code for code in CATALOGUE if code not in text} == set()


def test_entries_are_complete() -> None:
    for entry in CATALOGUE.values():
        assert entry.title and entry.explanation and entry.example and entry.fix, entry.code


def test_lookup_accepts_loose_spellings() -> None:
    assert lookup("fl301") is lookup("301") is CATALOGUE["FL301"]
    assert render_entry(CATALOGUE["FL301"]).startswith("FL301 (error): Undefined target")
