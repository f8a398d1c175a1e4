"""`MemoryChannels` passes the `MessageChannels` conformance suite (the outbox adapter runs
the same checks over real SMTP servers in tests/adapters/messaging)."""

from __future__ import annotations

import pytest

from ivr.runtime.testing.messages_conformance import CHECKS, Check, memory_factory


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
async def test_memory_channels_conform(check: Check) -> None:
    await check(memory_factory)
