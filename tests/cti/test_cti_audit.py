"""The agents' journal (in memory, SQLite and PostgreSQL alike), the not-ready report built on
it, and the login throttle's counting, windows, lock-outs and memory bound. On a shared
database two instances' journals are one: each reads the other's lines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.adapters.cti.audit import (
    AgentEvent,
    AgentJournal,
    MemoryAgentJournal,
    SqliteAgentJournal,
    not_ready_seconds,
)
from ivr.adapters.cti.throttle import LoginThrottle
from ivr.adapters.postgres.agent_journal import open_postgres_agent_journal

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AgentJournal]:
    if request.param == "memory":
        yield MemoryAgentJournal()
    elif request.param == "sqlite":
        yield await SqliteAgentJournal.open(tmp_path / "agent-journal.sqlite3")
    else:
        url = request.getfixturevalue("postgres_url")
        async with open_postgres_agent_journal(url, instance="a", schema="tenant_bank") as opened:
            yield opened


def state(minutes: float, agent: str, value: str, reason: str | None = None) -> AgentEvent:
    return AgentEvent(
        T0 + timedelta(minutes=minutes), "state", agent, None, {"state": value, "reason": reason}
    )


async def test_the_journal_keeps_lines_in_order_and_filters_them(journal: AgentJournal) -> None:
    await journal.record(AgentEvent(T0, "login_failed", "8001", "192.0.2.7", {"via": "http"}))
    await journal.record(AgentEvent(T0, "locked_out", "8001", "192.0.2.7", {"locked": "extension 8001"}))
    await journal.record(state(1, "8002", "ready"))
    assert [e.kind for e in await journal.events()] == ["login_failed", "locked_out", "state"]
    [locked] = await journal.events(kind="locked_out")
    assert (locked.extension, locked.address, locked.detail) == (
        "8001",
        "192.0.2.7",
        {"locked": "extension 8001"},
    )
    assert [e.kind for e in await journal.events(extension="8002")] == ["state"]
    assert (await journal.events())[0].at == T0
    assert [e.kind for e in await journal.latest(("state", "login_failed"), 5)] == ["state", "login_failed"]
    assert [e.kind for e in await journal.latest(("login_failed", "locked_out"), 1)] == ["locked_out"]


async def test_the_sqlite_journal_survives_a_reopen(tmp_path: Path) -> None:
    first = await SqliteAgentJournal.open(tmp_path / "agent-journal.sqlite3")
    await first.record(state(0, "8001", "not_ready", "break"))
    again = await SqliteAgentJournal.open(tmp_path / "agent-journal.sqlite3")
    assert [e.detail["reason"] for e in await again.events()] == ["break"]


async def test_a_line_with_a_nul_or_a_lone_surrogate_is_kept(journal: AgentJournal) -> None:
    await journal.record(AgentEvent(T0, "login_failed", "80\x0001", "\ud800", {"via": "h\x00ttp"}))
    [line] = await journal.events(kind="login_failed")
    assert line.detail == {"via": "h\x00ttp"} and line.extension is not None


async def test_two_instances_on_one_database_read_each_others_lines(postgres_url: str) -> None:
    async with (
        open_postgres_agent_journal(postgres_url, instance="a", schema="tenant_bank") as a,
        open_postgres_agent_journal(postgres_url, instance="b", schema="tenant_bank") as b,
        open_postgres_agent_journal(postgres_url, instance="b", schema="tenant_fund") as other,
    ):
        await a.record(state(0, "8001", "not_ready", "break"))
        await b.record(AgentEvent(T0 + timedelta(minutes=5), "locked_out", "8002", "192.0.2.9", {}))
        await b.record(state(10, "8001", "ready"))
        await other.record(state(1, "9001", "not_ready", "lunch"))  # another tenant's schema
        assert [e.kind for e in await a.latest(("state", "locked_out"), 10)] == [
            "state",
            "locked_out",
            "state",
        ]
        report = not_ready_seconds(await a.events(kind="state"), until=T0 + timedelta(hours=1))
        assert report == {"8001": {"break": 600.0}}
    async with open_postgres_agent_journal(postgres_url, instance="c", schema="tenant_bank") as again:
        assert len(await again.events()) == 3  # durable: a restarted instance reads them all


def test_the_report_adds_up_not_ready_time_per_reason() -> None:
    lines = [
        state(0, "8001", "not_ready", "break"),
        state(15, "8001", "ready"),
        state(30, "8001", "not_ready", "training"),
        state(90, "8001", "not_ready", "break"),  # a new reason without being ready between
        state(100, "8001", "ready"),
        state(0, "8002", "not_ready"),
        AgentEvent(T0, "login", "8002"),
    ]
    report = not_ready_seconds(lines, until=T0 + timedelta(minutes=120))
    assert report["8001"] == {"break": 25 * 60, "training": 60 * 60}
    assert report["8002"] == {"": 120 * 60}  # still not ready at the end, no reason given


def test_the_throttle_locks_after_the_limit_within_the_window_and_unlocks() -> None:
    throttle = LoginThrottle(max_failures=3, max_address_failures=5, window=60, lockout=300)
    assert throttle.failed("8001", "a", 0) is None
    assert throttle.failed("8001", "a", 70) is None  # the first failure is out of the window
    assert throttle.failed("8001", "b", 80) is None
    lock = throttle.failed("8001", "c", 90)
    assert lock is not None and lock.subject == "extension 8001" and lock.until == 390
    assert throttle.locked("8001", "z", 100) == lock and lock.retry_after(100) == 290
    assert "locked for 5 more minutes" in lock.message(100)
    assert throttle.locked("8001", "z", 391) is None
    for n in range(5):  # one address trying many extensions
        found = throttle.failed(f"90{n}", "d", 400 + n)
    assert found is not None and found.subject == "address d"
    assert throttle.locked("8002", "d", 410) is not None and throttle.locked("8002", "e", 410) is None
    throttle.failed("8003", "f", 500)
    throttle.succeeded("8003", 501)
    assert throttle.failed("8003", "f", 502) is None  # a right password starts the count again


def test_the_throttle_remembers_a_bounded_number_of_keys() -> None:
    throttle = LoginThrottle(capacity=100)
    for n in range(1000):
        throttle.failed(f"guess-{n}", None, float(n))
    assert len(throttle._failures) <= 100
