"""Fuzzing in CI: every target of `fuzz_targets.TARGETS` gets a bounded number of
hypothesis examples (structure-aware inputs and mutations of the real corpus); each case
must keep the target's contract within its time limit. The long campaign is
`scripts/fuzz.py` (README: counts and results)."""

from __future__ import annotations

import fuzz_corpus as corpus
import pytest
from fuzz_draw import HypothesisDraw
from fuzz_limits import time_limit
from fuzz_targets import (
    BY_NAME,
    TARGETS,
    Target,
    check_flow,
    check_flow_test,
    check_hosting,
    check_service,
    check_yaml,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
# The suite shares a busy 2-core machine with other work: a hang still fails, a slow moment
# does not (the campaign, in its own processes, holds the targets to their own limits).
CI_SLACK = 3


def _fuzz(target: Target) -> None:
    if target.warm_up is not None:
        target.warm_up()

    @settings(max_examples=target.ci_examples, deadline=None, suppress_health_check=SUPPRESS)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        case = target.generate(HypothesisDraw(data))
        with time_limit(target.time_limit * CI_SLACK):
            target.check(case)

    run()


@pytest.mark.parametrize(
    "name", [t.name for t in TARGETS if not t.name.startswith(("http", "cti_socket", "editor"))]
)
def test_no_input_breaks_the_contract_of(name: str) -> None:
    _fuzz(BY_NAME[name])


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", [t.name for t in TARGETS if t.name.startswith(("http", "cti_socket", "editor"))]
)
def test_no_request_breaks_the_contract_of(name: str) -> None:
    _fuzz(BY_NAME[name])


@pytest.mark.parametrize(
    ("name", "data"), list(corpus.yaml_files("any")), ids=[n for n, _ in corpus.yaml_files("any")]
)
def test_the_corpus_itself_keeps_every_contract(name: str, data: bytes) -> None:
    check_yaml(data)
    if name.endswith(".test.yaml"):
        check_flow_test(data)
    elif data.startswith(b"service:") or b"\nservice:" in data:
        check_service(data)
    elif data.startswith(b"hosting:") or b"\nhosting:" in data:
        check_hosting(data)
    else:
        check_flow(data)
