"""The login gates' contract, met by this instance's memory (`LocalLoginGate`) and the shared
database (`PostgresLoginGate`) alike: failures within the window lock the extension (or the
address) for the lock-out's length, a right password starts the count again; on one database
a lock-out started at instance A refuses the extension at instance B, and failures counted
at both instances add up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from ivr.adapters.cti.throttle import LocalLoginGate, LoginGate, LoginLimits, LoginThrottle
from ivr.adapters.postgres.agent_journal import open_postgres_agent_journal
from ivr.adapters.postgres.logins import PostgresLoginGate

LIMITS = LoginLimits(max_failures=3, max_address_failures=5, window=60, lockout=300)
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    seconds: float = 0.0

    def at(self, seconds: float) -> None:
        self.seconds = seconds

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.seconds)


@dataclass
class Gates:
    """Two instances' gates (the same one for the memory gate) and their clock."""

    a: LoginGate
    b: LoginGate
    clock: Clock


@pytest.fixture(params=["memory", "postgres"])
async def gates(request: pytest.FixtureRequest) -> AsyncIterator[Gates]:
    clock = Clock()
    if request.param == "memory":
        gate = LocalLoginGate(LoginThrottle.of(LIMITS), now=lambda: clock.seconds)
        yield Gates(gate, gate, clock)
        return
    url = request.getfixturevalue("postgres_url")
    async with (
        open_postgres_agent_journal(url, instance="a", schema="tenant_bank") as a,
        open_postgres_agent_journal(url, instance="b", schema="tenant_bank") as b,
    ):
        yield Gates(
            PostgresLoginGate(a.db, LIMITS, clock.wall), PostgresLoginGate(b.db, LIMITS, clock.wall), clock
        )


async def test_failures_within_the_window_lock_the_extension_and_the_lock_ends(gates: Gates) -> None:
    a, clock = gates.a, gates.clock
    assert await a.failed("8001", "a") is None
    clock.at(70)
    assert await a.failed("8001", "a") is None  # the first failure is out of the window
    clock.at(80)
    assert await a.failed("8001", "b") is None
    clock.at(90)
    lock = await a.failed("8001", "c")
    assert lock is not None and lock.subject == "extension 8001" and lock.retry_after() == 300
    clock.at(100)
    held = await a.locked("8001", "z")
    assert held is not None and held.subject == "extension 8001" and held.retry_after() == 290
    assert "locked for 5 more minutes" in held.message()
    assert await a.locked("8002", "z") is None  # one locked extension does not lock the others
    clock.at(391)
    assert await a.locked("8001", "z") is None


async def test_one_address_trying_many_extensions_is_locked(gates: Gates) -> None:
    a, clock = gates.a, gates.clock
    found = None
    for n in range(5):
        clock.at(n)
        found = await a.failed(f"90{n}", "d")
    assert found is not None and found.subject == "address d"
    clock.at(10)
    assert await a.locked("8002", "d") is not None and await a.locked("8002", "e") is None


async def test_a_right_password_starts_the_extensions_count_again(gates: Gates) -> None:
    a, clock = gates.a, gates.clock
    await a.failed("8003", "f")
    await a.failed("8003", "f")
    clock.at(1)
    await a.succeeded("8003")
    clock.at(2)
    assert await a.failed("8003", "f") is None
    assert await a.failed("8003", "f") is None


async def test_failures_at_two_instances_add_up_and_the_lock_holds_at_both(gates: Gates) -> None:
    a, b, clock = gates.a, gates.b, gates.clock
    assert await a.failed("8001", "192.0.2.1") is None
    clock.at(1)
    assert await b.failed("8001", "192.0.2.2") is None
    clock.at(2)
    started = await a.failed("8001", "192.0.2.1")
    assert started is not None and started.subject == "extension 8001"
    clock.at(3)
    refused = await b.locked("8001", "192.0.2.3")
    assert refused is not None and refused.retry_after() == 299


async def test_concurrent_failures_never_miss_the_limit(postgres_url: str) -> None:
    """Two instances counting the same extension at once: exactly one starts the lock-out."""
    import trio

    clock = Clock()
    async with (
        open_postgres_agent_journal(postgres_url, instance="a", schema="tenant_bank") as a,
        open_postgres_agent_journal(postgres_url, instance="b", schema="tenant_bank") as b,
    ):
        gates = [PostgresLoginGate(j.db, LIMITS, clock.wall) for j in (a, b)]
        started: list[object] = []

        async def fail(gate: PostgresLoginGate, address: str) -> None:
            lock = await gate.failed("8001", address)
            if lock is not None:
                started.append(lock)

        async with trio.open_nursery() as nursery:
            for n in range(3):
                nursery.start_soon(fail, gates[n % 2], f"192.0.2.{n}")
        assert len(started) == 1
        assert await gates[1].locked("8001", None) is not None
