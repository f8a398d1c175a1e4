"""The console examples of docs/reports.md, run against the test traffic's data directory:
each block's `$ ivr ...` line is run and must print the rest of the block exactly."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ivr.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "reports.md"
BLOCKS = re.findall(r"```console\n\$ (.+?)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_has_its_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize(("command", "expected"), BLOCKS, ids=[c[:60] for c, _ in BLOCKS])
def test_a_console_example_prints_what_the_doc_shows(
    site: Path, capsys: pytest.CaptureFixture[str], command: str, expected: str
) -> None:
    words = [w.replace("var/", f"{site}/") for w in shlex.split(command)]
    assert words[0] == "ivr"
    code = main(words[1:])
    out, err = capsys.readouterr()
    if expected.startswith("ivr report:"):
        assert (code, err) == (2, expected)
    else:
        assert (code, out) == (0, expected)
