"""Fixtures for the end-to-end tests: one `ivr serve` process with the ACD and the agent
desktop, whose agents' phones are sipp UASes on free ports; all on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pjsua2", reason="pjsua2 is not installed: bash scripts/build-pjsua2.sh .venv")
sys.path.insert(0, str(Path(__file__).parents[1] / "hosting"))
sys.path.insert(0, str(Path(__file__).parents[1] / "cti"))

from browser_support import chromium_or_skip
from e2e_support import E2e, start_e2e_server
from hosting_support import environment_ready


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.sip)


@pytest.fixture(scope="session")  # one server for every e2e module (each start costs ~12 s)
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2e]:
    problem = environment_ready()
    if problem:
        pytest.skip(problem)
    served = start_e2e_server(tmp_path_factory.mktemp("e2e"))
    yield served
    assert served.server.stop() == 0, served.server.output()


@pytest.fixture
def chromium() -> str:
    return chromium_or_skip()
