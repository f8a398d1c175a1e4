"""The campaign command works as the README says: it runs cases in memory-limited workers,
reports counts per target as a table and writes report.json; a case replays by number."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
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


def test_a_stopped_campaign_still_reports_the_chunks_that_finished(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--targets", "cti_message", "--cases", "10000000"]
    campaign = subprocess.Popen(
        [*command, "--chunk", "200", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not _workers(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # some chunks finish
    campaign.send_signal(signal.SIGTERM)
    out, err = campaign.communicate(timeout=120)
    assert campaign.returncode == 130, out + err
    assert "(interrupted: the chunks that finished)" in out
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["cti_message"]["cases"] % 200 == 0 and report["cti_message"]["failures"] == []
    assert _workers(tmp_path) == [], "a worker outlived the campaign"


def _workers(out: Path) -> list[int]:
    """Worker processes writing to `out` (their command line names it)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # it ended meanwhile
        if b"--worker" in args and str(out).encode() in args:
            found.append(int(cmdline.parent.name))
    return found
