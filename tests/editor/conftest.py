"""Fixtures of the editor tests: Debian's Chromium for playwright (never a downloaded browser)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def chromium() -> str:
    pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if shutil.which(CHROMIUM) is None:
        pytest.skip("apt-get install -y --no-upgrade chromium")
    return CHROMIUM
