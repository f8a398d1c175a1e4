"""docs/cluster.md's PostgreSQL section: its hosting-file example is one the checker takes,
a password in that URL is refused where it is written, and the `ivr serve` options it shows
are ones `ivr serve` has."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from ivr.flowlang.hostingfile import load_hosting_text

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "cluster.md").read_text()
TENANTS = "hosting: center\ntenants:\n  brokerage: {folder: flows, numbers: ['95500']}\n"


def database_example() -> str:
    return next(block for block in re.findall(r"```yaml\n(.*?)```", DOC, re.S) if "database:" in block)


def test_the_documented_database_setting_is_read_from_a_hosting_file() -> None:
    hosting, found = load_hosting_text(TENANTS + database_example(), "hosting.yaml")
    assert hosting is not None and [d.code for d in found if d.is_error] == []
    assert hosting.database_url == "postgresql://ivr@10.0.0.5:5432/ivr"


def test_a_password_in_the_hosting_files_database_url_is_refused_at_its_line() -> None:
    text = TENANTS + "database:\n  url: postgresql://ivr:s3cret@db:5432/ivr\n"
    _, found = load_hosting_text(text, "hosting.yaml")
    [problem] = [d for d in found if d.code == "FL816"]
    assert problem.is_error and (problem.span.line, problem.hint) == (5, problem.hint)
    assert "s3cret" not in problem.message and "PGPASSWORD" in (problem.hint or "")


def test_a_database_setting_that_is_not_a_postgresql_url_is_a_shape_error() -> None:
    _, found = load_hosting_text(TENANTS + "database: {url: mysql://db/ivr}\n", "hosting.yaml")
    assert any(d.code.startswith("FL1") and d.span.line == 4 for d in found), found


def test_the_serve_options_the_section_shows_exist() -> None:
    helps = subprocess.run(
        [sys.executable, "-m", "ivr", "serve", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in ("--database-url", "--instance-id"):
        assert option in DOC and option in helps


def test_the_documented_center_figures_are_what_health_writes_for_them() -> None:
    """The `/health` example of "Queue figures and announcements across instances": its
    `center` block is exactly what the server writes for those figures."""
    from ivr.adapters.hosting.http import _center_health
    from ivr.runtime.acd.shared import CenterFigures, CenterQueue

    [example] = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", DOC, re.S) if '"center"' in b]
    center = example["center"]
    shown = center["queues"].items()
    queues = {name: CenterQueue(name, q["waiting"], q["longest_wait_seconds"]) for name, q in shown}
    agents = {state: n for state, n in center["agents"].items() if state != "logged_in"}
    assert _center_health(CenterFigures(queues, agents)) == center
    assert set(example) >= {"agents", "queues", "center"}
