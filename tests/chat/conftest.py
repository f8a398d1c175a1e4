"""Chat tests: the engine harness of tests/runtime, the browser helpers of tests/cti, and a
virtual clock that jumps over sleeps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio.testing

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "runtime"))
sys.path.insert(0, str(Path(__file__).parents[1] / "cti"))
sys.path.insert(0, str(Path(__file__).parents[1] / "tenants"))


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)
