"""The outbox adapter passes the `MessageChannels` conformance suite that `MemoryChannels`
passes, with its workers and real SMTP servers: "ok" accepts, "broken" refuses every
recipient (550), "silent" never says a word."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from gateways import SilentServer, SmtpBehaviour, running, service, smtp_sink

from ivr.runtime.ports import MessageChannels
from ivr.runtime.testing.messages_conformance import ADDRESS, CHECKS, ChannelsFactory, Check


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[int, int, int]]:
    refuse = SmtpBehaviour(refuse={ADDRESS: "550 5.1.1 no such user"})
    with smtp_sink() as ok, smtp_sink(refuse) as broken, SilentServer() as silent:
        yield ok.port, broken.port, silent.port


def channel(name: str, port: int, timeout: str = "5s") -> str:
    return f"""
    {name}:
      kind: email
      from: ivr@broker.example
      smtp: {{host: 127.0.0.1, port: {port}, security: none}}
      retry: {{attempts: 5, backoff: 30s}}
      timeout: {timeout}
    """


@pytest.fixture
def factory(tmp_path: Path, servers: tuple[int, int, int]) -> ChannelsFactory:
    ok, broken, silent = servers
    svc = service(channel("ok", ok) + channel("broken", broken) + channel("silent", silent, "1s"))
    numbers = itertools.count()

    @asynccontextmanager
    async def outbox_channels() -> AsyncIterator[MessageChannels]:
        async with running(tmp_path / f"outbox-{next(numbers)}.db", svc) as messaging:
            yield messaging.channels

    return outbox_channels


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
async def test_outbox_channels_conform(check: Check, factory: ChannelsFactory) -> None:
    await check(factory)
