"""The memory call leg passes the same conformance suite every CallLeg adapter must pass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from trio.testing import MockClock

from ivr.runtime.ports import CallLeg
from ivr.runtime.testing import MemoryCallLeg
from ivr.runtime.testing.conformance import CHECKS, Check, FarEnd, MemoryFarEnd


@asynccontextmanager
async def memory_leg() -> AsyncIterator[tuple[CallLeg, FarEnd]]:
    leg = MemoryCallLeg()
    yield leg, MemoryFarEnd(leg)


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
async def test_memory_leg_conforms(check: Check, autojump_clock: MockClock) -> None:
    await check(memory_leg)
