"""Fault injection in CI: each kind of fault over a bounded number of calls, the engine
with the real adapters (see `fault_harness`). `scripts/fault_runs.py` runs 1,000 per kind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fault_harness import KINDS, environment_ready, run_kind

CALLS = 60


@pytest.fixture(scope="module")
def tts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problem = environment_ready()
    if problem:
        pytest.skip(problem)
    return tmp_path_factory.mktemp("tts")


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_under_each_fault_every_call_ends_on_a_declared_path_with_a_complete_record(
    kind: str, tmp_path: Path, tts: Path
) -> None:
    report = await run_kind(kind, CALLS, tmp_path, concurrency=20, tts=tts)
    assert sum(report.endings.values()) == CALLS
    if kind.startswith("records_"):
        assert report.records_backlog_peak > 0  # the fault did bite: lines waited in memory
