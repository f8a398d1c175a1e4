"""`ivr test PATH...`: run flow tests (`*.test.yaml`) on a virtual clock; report and coverage.

Exit status: 0 all passed, 1 a test failed or a file has errors, 2 usage problems (a
path that does not exist, no test files found, `-k` matching no test, a `--junit` file that
cannot be written). The format is in docs/testing.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ivr.commands import tenant_options
from ivr.flowlang.diagnostics import render
from ivr.runtime.flowtest import find_test_files, run_files
from ivr.runtime.flowtest.report import describe_failure, junit_xml


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="test files or folders holding *.test.yaml (default with --tenant: its flows)",
    )
    parser.add_argument("--coverage", action="store_true", help="print node and edge coverage per flow")
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report to FILE")
    parser.add_argument("-k", dest="only", metavar="TEXT", help="run only tests whose name contains TEXT")
    tenant_options.add_options(parser)


def run(args: argparse.Namespace) -> int:
    if tenant_options.chosen(args):
        tenant = tenant_options.resolve(args, "test")
        if tenant is None or tenant.source is None:
            return 2
        args.paths = args.paths or [str(tenant.source)]
    elif not args.paths:
        print("ivr test: give test files or folders (or --tenant NAME)", file=sys.stderr)
        return 2
    missing = [p for p in args.paths if not Path(p).exists()]
    for path in missing:
        print(f"ivr test: {path}: no such file or folder", file=sys.stderr)
    files = find_test_files(args.paths)
    if missing or not files:
        if not missing:
            print("ivr test: no *.test.yaml files found", file=sys.stderr)
        return 2
    suite = run_files(files, only=args.only)
    for diagnostic in suite.diagnostics:
        print(render(diagnostic, suite.sources))
    for result in suite.results:
        print(f"PASS {result.test.span}: {result.test.name}" if result.passed else describe_failure(result))
    if args.coverage:
        print("\ncoverage:\n" + suite.coverage.table())
    passed = sum(1 for r in suite.results if r.passed)
    print(
        f"\n{passed} passed, {len(suite.results) - passed} failed, {len(suite.diagnostics)} file problem(s)"
    )
    if args.junit and not _write_junit(Path(args.junit), junit_xml(suite.results)):
        return 2
    if args.only is not None and not suite.results and not suite.diagnostics:
        print(f"ivr test: no test name contains '{args.only}'", file=sys.stderr)
        return 2
    return 0 if suite.passed else 1


def _write_junit(path: Path, xml: str) -> bool:
    """Write the JUnit report (making its folder, like `ivr draw -o`); a path that cannot be
    written is a usage problem (False)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(xml, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if path.is_dir():
            reason = "it is a folder"
        elif any(p.exists() and not p.is_dir() for p in path.parents):
            reason = f"{next(p for p in path.parents if p.exists() and not p.is_dir())} is not a folder"
        print(f"ivr test: cannot write the JUnit report {path}: {reason}", file=sys.stderr)
        return False
    return True
