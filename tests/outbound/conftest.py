"""Outbound tests: SIP ones need the pjsua2 hosting build, sipp, espeak-ng and sox; when one
is missing they skip, which fails the run under CI=true (see tests/conftest.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))


@pytest.fixture
def need_sip() -> None:
    pytest.importorskip("pjsua2", reason="pjsua2 is not installed: bash scripts/build-pjsua2.sh .venv")
    for tool in ("sipp", "espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/install-system-deps.sh)")
