"""Measure how well `ivr check` reports the mistakes of the conformance corpus.

Run: .venv/bin/python scripts/diagnostic_quality.py [--corpus tests/conformance] [-v]
     .venv/bin/python scripts/diagnostic_quality.py --cases benchmarks/mistakes
       (a held-out set: mistakes written after the checker, never tuned against)

Every invalid case of the corpus opens with `# expect: CODES`, `# at: LINE` (the line of the
mistake, written by whoever wrote the case) and `# fix: TEXT` (what the author has to type);
a project case (a folder under projects/) says the same in its EXPECT file (`at: FILE:LINE`).
A case counts as *located* when a diagnostic of an expected code is on that line, and as
*fixed* when such a diagnostic's hint contains the fix text. A case without `at` counts as
neither. Valid cases (and flows/) must give no error at all; any that does is listed.
Prints one line per miss and the shares; the figure in the README comes from here.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ivr.flowlang.project import load_project

HEADER = re.compile(r"^#\s*(expect|at|fix):\s?(.*)$", re.MULTILINE)


def header(case: Path) -> dict[str, str]:
    text = case.read_bytes().decode("utf-8", errors="replace")
    opening = "\n".join(line for line in text.splitlines()[:6] if line.startswith("#"))
    return {key: value.rstrip() for key, value in HEADER.findall(opening)}


def judge(corpus: Path, case: Path) -> tuple[bool, bool]:
    """(located, fixed) for one invalid case."""
    wanted = header(case)
    if "at" not in wanted:
        return False, False
    _, diagnostics = load_project([corpus / "service.yaml", corpus / "lib", case])
    codes = set(wanted.get("expect", "").split())
    on_line = [d for d in diagnostics if d.code in codes and d.span.line == int(wanted["at"])]
    fixed = any(wanted.get("fix", "\0") in (d.hint or "") for d in on_line)
    return bool(on_line), fixed


def judge_project(case: Path) -> tuple[bool, bool]:
    """(located, fixed) for one project case."""
    first, *rest = (case / "EXPECT").read_text(encoding="utf-8").splitlines()
    wanted = dict(line.split(": ", 1) for line in rest if ": " in line)
    if "at" not in wanted:
        return False, False
    _, diagnostics = load_project([case])
    file, _, line = wanted["at"].partition(":")
    on_line = [
        d
        for d in diagnostics
        if d.code in first.split() and d.span.file == str(case / file) and d.span.line == int(line)
    ]
    return bool(on_line), any(wanted.get("fix", "\0") in (d.hint or "") for d in on_line)


def rejected_valid_flows(corpus: Path, flows: Path) -> list[str]:
    rejected = []
    for case in sorted((corpus / "valid").glob("*.y*ml")):
        _, diagnostics = load_project([corpus / "service.yaml", corpus / "lib", case])
        rejected += [f"{case.name}: {d.code} {d.message}" for d in diagnostics if d.is_error]
    if flows.is_dir():
        _, diagnostics = load_project([flows])
        rejected += [f"{flows}: {d.span} {d.code} {d.message}" for d in diagnostics if d.is_error]
    return rejected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("tests/conformance"))
    parser.add_argument("--flows", type=Path, default=Path("flows"))
    parser.add_argument(
        "--cases", type=Path, help="judge the cases in this folder instead (against the corpus's service)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list every case")
    args = parser.parse_args(argv)
    cases = sorted((args.cases or args.corpus / "invalid").glob("*.y*ml"))
    projects = (
        []
        if args.cases
        else sorted(p for p in (args.corpus / "projects").iterdir() if (p / "EXPECT").is_file())
    )
    located = fixed = 0
    for case in [*cases, *projects]:
        on_line, with_fix = judge(args.corpus, case) if case.is_file() else judge_project(case)
        located += on_line
        fixed += on_line and with_fix
        if args.verbose or not (on_line and with_fix):
            verdict = "hint misses the fix" if on_line else "wrong line"
            verdict = "ok" if on_line and with_fix else verdict
            print(f"  {case.name}: {verdict}")
    rejected = rejected_valid_flows(args.corpus, args.flows)
    for problem in rejected:
        print(f"  valid flow rejected: {problem}")
    total = len(cases) + len(projects)
    print(f"{total} invalid cases: {located} located on the right line ({located / total:.0%}),")
    print(f"  {fixed} on the right line with a hint that names the fix ({fixed / total:.0%})")
    print(f"valid flows rejected: {len(rejected)}")
    return 0 if not rejected else 1


if __name__ == "__main__":
    sys.exit(main())
