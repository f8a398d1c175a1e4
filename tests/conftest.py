"""Suite-wide test policy: in CI (CI=true) a skipped test is a failure, so tests that need
Graphviz, TTS or SIP can never silently stop running."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["postgres_support"]  # the throwaway PostgreSQL server and its databases


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        print(f"\nCI=true: {skipped} test(s) skipped; every test must run in CI")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
