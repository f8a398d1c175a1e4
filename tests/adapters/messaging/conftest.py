"""Fixtures of the messaging tests: the gateways of `gateways.py`, started per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gateways import HttpGateway, SmtpSink, smtp_sink


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture
def gateway() -> Iterator[HttpGateway]:
    with HttpGateway() as server:
        yield server
