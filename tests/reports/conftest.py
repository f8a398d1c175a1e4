"""Fixtures for the report tests: a virtual clock that jumps over sleeps, and a data
directory after known traffic (`site`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from reports_support import FLOW_TEXT, SERVICE_TEXT, TENANT, five_calls, run_traffic, seed_campaigns


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory after the five calls: calls.sqlite3, the tenant's journal and its
    campaign store (`reports_support.CAMPAIGN_ATTEMPTS`)."""
    root = tmp_path_factory.mktemp("site")
    journal = root / "tenants" / TENANT / "agent-journal.sqlite3"
    journal.parent.mkdir(parents=True)
    clock = trio.testing.MockClock(autojump_threshold=0)
    trio.run(run_traffic, root / "calls.sqlite3", journal, five_calls, clock=clock)
    trio.run(seed_campaigns, journal.parent / "campaigns.sqlite3")
    (root / "flows").mkdir()
    (root / "flows" / "main.yaml").write_text(FLOW_TEXT, encoding="utf-8")
    (root / "flows" / "service.yaml").write_text(SERVICE_TEXT, encoding="utf-8")
    return root
