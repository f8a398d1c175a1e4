"""Outbound flows without a phone: `ivr test` files say who answers and the contact
(`outbound:`), `ivr simulate` takes `--contact` and `--answered-by`; mistakes in either are
said plainly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ivr.flowlang.project import load_project
from ivr.runtime.campaigns.trial import trial_call
from ivr.runtime.flowtest.loader import load_test_file
from ivr.runtime.flowtest.suite import run_files

ROOT = Path(__file__).parents[2]
FLOW = ROOT / "flows" / "fund_news.yaml"


def simulate(keys: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ivr", "simulate", str(FLOW), "--fast", *args]
    return subprocess.run(command, input=keys, capture_output=True, text=True, timeout=60, check=False)


def test_simulate_a_person_who_opts_out() -> None:
    run = simulate("9\n", "--contact", "name=李伟")
    assert run.returncode == 0, run.stderr
    assert "李伟您好" in run.stdout and "今后不会再给您拨打" in run.stdout
    assert "disposition=opted_out" in run.stdout


def test_simulate_an_answering_machine_in_english() -> None:
    run = simulate("", "--contact", "name=Ann", "--contact", "language=en", "--answered-by", "machine")
    assert run.returncode == 0, run.stderr
    assert "-> voicemail" in run.stdout and "disposition=message_left" in run.stdout


def test_simulate_says_which_contact_fields_an_outbound_flow_needs() -> None:
    run = simulate("", "--contact", "nmae=李伟")
    assert run.returncode == 2
    assert "reads contact field 'name'" in run.stderr and "did you mean 'nmae'?" in run.stderr
    assert "--contact name=..." in run.stderr
    bad = simulate("", "--contact", "name")
    assert bad.returncode == 2 and "FIELD=VALUE" in bad.stderr


def test_a_contact_on_an_inbound_flow_is_refused() -> None:
    project, _ = load_project([ROOT / "flows"])
    _, problems = trial_call(project.flows["quotes"], {"name": "x"})
    assert problems == ["flow 'quotes' is not an outbound flow: it has no `outbound:` section"]


def test_a_test_file_with_a_bad_answered_by_is_a_positioned_error(tmp_path: Path) -> None:
    path = tmp_path / "x.test.yaml"
    path.write_text("tests:\n- name: t\n  flow: fund_news\n  outbound: {answered_by: robot, attempt: 0}\n")
    _, problems = load_test_file(str(path))
    assert [(d.code, d.span.line, d.span.col) for d in problems] == [("FT101", 4, 27), ("FT101", 4, 43)]
    assert problems[0].hint == "person or machine"


def test_an_outbound_flows_test_without_outbound_or_with_a_missing_field_fails(tmp_path: Path) -> None:
    path = tmp_path / "fund_news.test.yaml"
    path.write_text(
        "project: " + str(ROOT / "flows") + "\n"
        "tests:\n"
        "- name: no outbound\n  flow: fund_news\n"
        "- name: no name\n  flow: fund_news\n  outbound: {contact: {language: en}}\n"
    )
    suite = run_files([str(path)])
    failures = [f for result in suite.results for f in result.failures]
    assert any("is an outbound flow: give the test `outbound:" in f for f in failures)
    assert any("reads contact field 'name'" in f for f in failures)
    assert [len(r.failures) for r in suite.results] == [1, 1]
