"""The campaign runner on the in-memory ports and trio's virtual clock: a run goes through
its contacts with the outcomes the callees give, retries as configured, stores every
attempt before it dials, honours an opt-out in a second run, resumes after a crash without
placing any attempt twice, and a paused run places no call."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from ivr.flowlang.project import load_project
from ivr.runtime.campaigns.model import Contact
from ivr.runtime.campaigns.runner import CampaignError, CampaignRunner, open_campaigns
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import Engine
from ivr.runtime.ports import DialRequest
from ivr.runtime.testing import (
    FixtureOperations,
    MemoryCallRecords,
    MemoryChannels,
    ScriptedRouting,
    VirtualWallClock,
)
from ivr.runtime.testing.campaigns import Answer, MemoryCampaignStore, ScriptedDialer, dialled_numbers

MONDAY_10_SHANGHAI = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

SERVICE = """\
service: bank
languages: [en]
trunks:
  carrier: {gateway: 127.0.0.1:5090, channels: 10, reserve: 2, caller_id: "95500"}
calendars:
  callhours:
    timezone: Asia/Shanghai
    hours: {mon: [["09:00", "20:00"]], tue: [["09:00", "20:00"]]}
campaigns:
  reminder:
    flow: reminder
    trunk: carrier
    contacts: {csv: contacts.csv}
    window: {calendar: callhours}
    pacing: {max_concurrent: 4, calls_per_second: 2}
    retries:
      busy: {after: 5m, times: 2}
      no_answer: {after: 10m, times: 1}
      failed: {after: 1m, times: 1}
"""
FLOW = """\
flow: reminder
languages: [en]
outbound:
  contact: {name: {type: string}}
  dispositions: [heard]
start: hello
nodes:
  hello:
    type: menu
    prompt: "Hello {contact.name}. Press 9 to stop these calls."
    options: {"9": opt_out}
    timeout: 2s
    max_retries: 0
    on_no_input: heard
    on_no_match: heard
  heard:
    type: set
    assign: {disposition: "'heard'"}
    next: bye
  opt_out:
    type: set
    assign: {disposition: "'opted_out'"}
    next: bye
  bye: {type: hangup, prompt: "Goodbye."}
"""


def project(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "service.yaml").write_text(SERVICE)
    (tmp_path / "reminder.yaml").write_text(FLOW)
    (tmp_path / "contacts.csv").write_text("phone,name\n")
    loaded, diagnostics = load_project([tmp_path])
    assert [d for d in diagnostics if d.is_error] == []
    return loaded


def contacts(*numbers: str) -> list[Contact]:
    return [Contact(f"c{i}", n, {"name": f"N{i}", "phone": n}) for i, n in enumerate(numbers)]


def by_first_digit(request: DialRequest) -> Answer:
    """1: a person who listens; 9: a person who presses 9; 3: busy; 4: no answer; 5: fails."""
    return {
        "1": Answer("answered"),
        "9": Answer("answered", keys="9"),
        "2": Answer("machine"),
        "3": Answer("busy"),
        "4": Answer("no_answer", after=30),
        "5": Answer("failed"),
    }[request.number[0]]


@asynccontextmanager
async def runner(
    tmp_path: Path, store: MemoryCampaignStore, dialer: ScriptedDialer
) -> AsyncIterator[tuple[CampaignRunner, MemoryCallRecords]]:
    records = MemoryCallRecords()
    clock = VirtualWallClock(MONDAY_10_SHANGHAI)
    ports = CallPorts(FixtureOperations({}), MemoryChannels(), ScriptedRouting(), records, clock)
    proj = project(tmp_path)
    async with open_campaigns(proj, store, dialer, Engine(proj, ports), clock) as r:
        yield r, records


async def until_done(r: CampaignRunner, run_id: str) -> None:
    with trio.fail_after(24 * 3600):
        while r.progress(run_id).state not in ("completed", "stopped"):
            await r.wait_changed()


async def test_a_run_ends_with_exact_outcomes_and_retries_as_configured(
    tmp_path: Path, autojump_clock: MockClock
) -> None:
    store, dialer = MemoryCampaignStore(), ScriptedDialer(by_first_digit)
    async with runner(tmp_path, store, dialer) as (r, records):
        numbers = ["1001", "1002", "9001", "2001", "3001", "3002", "4001", "5001"]
        run = await r.create("reminder", contacts(*numbers), "june")
        await r.control("june", "start")
        await until_done(r, "june")
        progress = r.progress("june")
    assert dict(dialled_numbers(dialer)) == {
        "1001": 1,
        "1002": 1,
        "9001": 1,
        "2001": 1,
        "3001": 3,
        "3002": 3,  # busy: the first try and two retries
        "4001": 2,  # no answer: one retry
        "5001": 2,  # failed: one retry
    }
    assert progress.final_outcomes == {"answered": 3, "machine": 1, "busy": 2, "no_answer": 1, "failed": 1}
    assert progress.attempt_outcomes == {"answered": 3, "machine": 1, "busy": 6, "no_answer": 2, "failed": 2}
    assert progress.dispositions == {"heard": 2, "opted_out": 1}
    assert dialer.peak <= 4 and run.contacts == 8
    loaded = await store.load("june")
    assert loaded is not None and loaded.run.state == "completed"
    assert len({a.attempt_id for a in loaded.attempts}) == len(loaded.attempts) == 14
    assert all(a.outcome is not None for a in loaded.attempts)
    assert {c["caller"] for c in records.started.values()} == {"95500"}  # outbound records: From us
    assert set(records.ended.values()) == {"completed"}
    assert await store.do_not_call() == {"9001"}


async def test_busy_retries_wait_their_delay(tmp_path: Path, autojump_clock: MockClock) -> None:
    store, dialer = MemoryCampaignStore(), ScriptedDialer(by_first_digit)
    async with runner(tmp_path, store, dialer) as (r, _):
        await r.create("reminder", contacts("3001"), "june")
        await r.control("june", "start")
        await until_done(r, "june")
    records = await store.load("june")
    assert records is not None
    starts = [a.started_at for a in records.attempts]
    ends = [a.ended_at for a in records.attempts]
    assert [(s - e).total_seconds() for s, e in zip(starts[1:], ends[:-1], strict=True) if e] == [
        300.0,
        300.0,
    ]


async def test_an_opt_out_is_honoured_by_a_second_run(tmp_path: Path, autojump_clock: MockClock) -> None:
    store, dialer = MemoryCampaignStore(), ScriptedDialer(by_first_digit)
    async with runner(tmp_path, store, dialer) as (r, _):
        await r.create("reminder", contacts("9001", "1001"), "june")
        await r.control("june", "start")
        await until_done(r, "june")
        await r.create("reminder", contacts("9001", "1001"), "july")
        await r.control("july", "start")
        await until_done(r, "july")
        july = r.progress("july")
    assert dict(dialled_numbers(dialer)) == {"9001": 1, "1001": 2}
    assert july.contact_states == {"do_not_call": 1, "done": 1}


async def test_a_paused_run_places_no_call_until_resumed(tmp_path: Path, autojump_clock: MockClock) -> None:
    store, dialer = MemoryCampaignStore(), ScriptedDialer(by_first_digit)
    async with runner(tmp_path, store, dialer) as (r, _):
        await r.create("reminder", contacts(*(f"1{i:03d}" for i in range(20))), "june")
        await r.control("june", "start")
        await trio.sleep(2)
        await r.control("june", "pause")
        placed = len(dialer.placed)
        await trio.sleep(3600)
        assert len(dialer.placed) == placed and 0 < placed < 20
        await r.control("june", "resume")
        await until_done(r, "june")
    assert len(dialer.placed) == 20


async def test_a_crash_mid_run_resumes_without_repeating_an_attempt(
    tmp_path: Path, autojump_clock: MockClock
) -> None:
    store = MemoryCampaignStore()
    first = ScriptedDialer(lambda request: Answer("answered", after=20))
    numbers = [f"1{i:03d}" for i in range(12)]
    async with runner(tmp_path, store, first) as (r, _):
        await r.create("reminder", contacts(*numbers), "june")
        await r.control("june", "start")
        await trio.sleep(3)  # a few calls are up when the process dies
    assert 0 < len(first.placed) < 12
    second = ScriptedDialer(lambda request: Answer("answered", after=1))
    async with runner(tmp_path, store, second) as (r, _):
        await until_done(r, "june")
    ids = [q.attempt_id for q in first.placed + second.placed]
    assert len(ids) == len(set(ids)), "an attempt was placed twice"
    records = await store.load("june")
    assert records is not None
    interrupted = [a for a in records.attempts if a.outcome == "interrupted"]
    assert {a.attempt_id for a in interrupted} == {q.attempt_id for q in first.placed}
    assert Counter(a.outcome for a in records.attempts) == {"interrupted": len(first.placed), "answered": 12}


async def test_control_errors_say_what_is_wrong(tmp_path: Path, autojump_clock: MockClock) -> None:
    async with runner(tmp_path, MemoryCampaignStore(), ScriptedDialer()) as (r, _):
        with pytest.raises(CampaignError, match="no campaign 'remindr'"):
            await r.create("remindr", [])
        with pytest.raises(CampaignError, match="only letters"):
            await r.create("reminder", [], "june/1")
        await r.create("reminder", [], "june")
        with pytest.raises(CampaignError, match="exists already"):
            await r.create("reminder", [], "june")
        with pytest.raises(CampaignError, match="created: it cannot resume"):
            await r.control("june", "resume")
        with pytest.raises(CampaignError, match="no run 'july'"):
            r.progress("july")


def keyed(*pairs: tuple[str, str]) -> list[Contact]:
    return [Contact(key, number, {"name": key, "phone": number}) for key, number in pairs]


async def test_a_running_run_calls_contacts_added_to_it_even_after_it_completed(
    tmp_path: Path, autojump_clock: MockClock
) -> None:
    store, dialer = MemoryCampaignStore(), ScriptedDialer(lambda request: Answer("answered", after=5))
    async with runner(tmp_path, store, dialer) as (r, _):
        await r.create("reminder", contacts("1000", "1001"), "standing")
        await r.control("standing", "start")
        await trio.sleep(1)  # two calls are up
        added = await r.add("standing", keyed(("n1", "1002")))
        await until_done(r, "standing")
        assert added.added == ("n1",) and len(dialer.placed) == 3
        later = await r.add("standing", keyed(("n2", "1003")))  # a completed run takes it and runs again
        assert later.added == ("n2",) and r.progress("standing").state == "running"
        await until_done(r, "standing")
    assert dialled_numbers(dialer) == {"1000": 1, "1001": 1, "1002": 1, "1003": 1}
    records = await store.load("standing")
    assert records is not None and records.run.state == "completed" and records.run.contacts == 4


async def test_a_key_added_twice_is_called_once(tmp_path: Path, autojump_clock: MockClock) -> None:
    store, dialer = MemoryCampaignStore(), ScriptedDialer()
    async with runner(tmp_path, store, dialer) as (r, _):
        await r.create("reminder", [], "standing")
        await r.control("standing", "start")
        first = await r.add("standing", keyed(("fill.42", "1002")))
        again = await r.add("standing", keyed(("fill.42", "1002"), ("fill.43", "1003")))
        await until_done(r, "standing")
        after_the_call = await r.add("standing", keyed(("fill.42", "1002")))
    assert (first.added, again.added, again.already, after_the_call.added) == (
        ("fill.42",),
        ("fill.43",),
        1,
        (),
    )
    assert dialled_numbers(dialer) == {"1002": 1, "1003": 1}


async def test_added_contacts_survive_a_crash_and_are_called_after_the_restart(
    tmp_path: Path, autojump_clock: MockClock
) -> None:
    store = MemoryCampaignStore()
    first = ScriptedDialer(lambda request: Answer("answered", after=20))
    async with runner(tmp_path, store, first) as (r, _):
        await r.create("reminder", [], "standing")
        await r.control("standing", "start")
        await r.add("standing", keyed(("a", "1001"), ("b", "1002")))
        await trio.sleep(3)  # both calls are up when the process dies
    second = ScriptedDialer(lambda request: Answer("answered", after=1))
    async with runner(tmp_path, store, second) as (r, _):
        again = await r.add("standing", keyed(("a", "1001")))  # the caller retries its add
        await until_done(r, "standing")
    assert again.added == ()
    ids = [q.attempt_id for q in first.placed + second.placed]
    assert len(ids) == len(set(ids)) and sorted(q.attempt_id for q in second.placed) == [
        "standing-a-2",
        "standing-b-2",
    ]


async def test_adding_refuses_bad_keys_and_stopped_runs(tmp_path: Path, autojump_clock: MockClock) -> None:
    async with runner(tmp_path, MemoryCampaignStore(), ScriptedDialer()) as (r, _):
        await r.create("reminder", [], "june")
        with pytest.raises(CampaignError, match="letters, digits"):
            await r.add("june", keyed(("fill-1", "1001")))
        with pytest.raises(CampaignError, match="comes twice"):
            await r.add("june", keyed(("a", "1001"), ("a", "1002")))
        await r.control("june", "stop")
        with pytest.raises(CampaignError, match="stopped: it takes no more"):
            await r.add("june", keyed(("a", "1001")))
        with pytest.raises(CampaignError, match="no run 'july'"):
            await r.add("july", keyed(("a", "1001")))
