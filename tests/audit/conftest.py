"""The secrets audit reuses the CTI, hosting, SIP and end-to-end test helpers."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).parents[1]
for folder in ("cti", "hosting", "adapters/sip", "e2e"):
    path = str(TESTS / folder)
    if path not in sys.path:
        sys.path.insert(0, path)
