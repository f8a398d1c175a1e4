"""`ivr explain CODE`: prints the catalogue entry; an unknown code is a usage error."""

from __future__ import annotations

import argparse

import pytest

from ivr.commands import explain


def ivr_explain(code: str) -> int:
    parser = argparse.ArgumentParser()
    explain.configure(parser)
    return explain.run(parser.parse_args([code]))


def test_explain_prints_the_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert ivr_explain("fl305") == 0
    out = capsys.readouterr().out
    assert out.startswith("FL305 (error): Caller trapped in a loop\n")
    assert "Example:" in out and "Fix:" in out


def test_unknown_code_suggests_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert ivr_explain("FLL301") == 2
    assert "unknown code 'FLL301'; did you mean 'FL301'?" in capsys.readouterr().err
