"""The campaign command works as the README says: it runs cases in memory-limited workers,
reports counts per target as a table and writes report.json; a case replays by number."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz.py"


def fuzz(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *argv], capture_output=True, text=True, timeout=600, check=False
    )


def test_a_short_campaign_reports_every_case_and_no_failure(tmp_path: Path) -> None:
    run = fuzz(
        *("--targets", "yaml,expression,cti_message", "--cases", "300", "--chunk", "150"),
        *("--memory-mb", "1024", "--out", str(tmp_path)),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "900 cases" in run.stdout
    for target in ("yaml", "expression", "cti_message"):
        assert f"| {target} |" in run.stdout
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert {name: (t["cases"], t["failures"]) for name, t in report.items()} == {
        "yaml": (300, []),
        "expression": (300, []),
        "cti_message": (300, []),
    }


def test_a_case_replays_from_its_number() -> None:
    run = fuzz("--replay", "expression:1:42")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("input: (") and run.stdout.rstrip().endswith("the case passes")
