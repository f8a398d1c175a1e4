"""Fixtures for the SIP adapter's end-to-end tests (real time, real sockets on 127.0.0.1).

They need the pjsua2 wheel (`bash scripts/build-pjsua2.sh .venv`), sipp and espeak-ng; when
one is missing the tests skip, which fails the run under CI=true (see tests/conftest.py).
"""

from __future__ import annotations

import random
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("pjsua2", reason="pjsua2 is not installed: bash scripts/build-pjsua2.sh .venv")

from ivr.adapters.sip.pjthread import SipConfig, SipEndpoint, open_sip_endpoint
from ivr.adapters.speech.espeak import EspeakRenderer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sip: end-to-end over SIP/RTP on 127.0.0.1 (pjsua2 + sipp)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.sip)


@pytest.fixture
def need_sipp() -> None:
    if shutil.which("sipp") is None:
        pytest.skip("sipp is not installed (apt-get install sip-tester)")


@pytest.fixture
def renderer(tmp_path: Path) -> EspeakRenderer:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return EspeakRenderer(tmp_path / "tts")


@pytest.fixture
async def endpoint() -> AsyncIterator[SipEndpoint]:
    # RTP from a random even port, not pjsua2's 4000: other servers and test runs on the
    # machine take the ports above 4000 too, and pjsua2 gives up after a few busy pairs.
    async with open_sip_endpoint(SipConfig(port=0, rtp_port=random.randrange(20_000, 60_000, 2))) as ep:
        yield ep
