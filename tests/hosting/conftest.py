"""Fixtures for the hosted runtime's end-to-end tests: `ivr serve` processes on 127.0.0.1.

One shared server (module scope) takes the calls that do not change its state; tests of
capacity, recording and shutdown start their own. All servers share one prompt cache, so
espeak-ng renders each static prompt once per test session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pjsua2", reason="pjsua2 is not installed: bash scripts/build-pjsua2.sh .venv")

from hosting_support import Server, environment_ready


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.sip)


@pytest.fixture(scope="session")
def tts_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problem = environment_ready()
    if problem:
        pytest.skip(problem)
    return tmp_path_factory.mktemp("tts")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tts_cache: Path) -> Iterator[Server]:
    """The shared server; calls ring 0.5 s before the answer, so a CANCEL can arrive first."""
    served = Server.start(tmp_path_factory.mktemp("served"), "--ring-seconds", "0.5", tts=tts_cache)
    yield served
    assert served.stop() == 0, served.output()
