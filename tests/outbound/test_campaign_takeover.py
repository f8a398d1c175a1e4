"""Campaigns continue from another instance (PostgreSQL): a live runner adopts, through its
tenant's heartbeat (`PeerWatch`), the runs of a peer whose heartbeat stopped and dials on,
no contact getting a second real attempt; two
instances noticing together adopt once; a do-not-call entry stored by one instance reaches
another's running campaign without a restart."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import trio

from ivr.adapters.postgres.campaigns import PostgresCampaignStore, open_postgres_campaign_store
from ivr.adapters.postgres.peers import PeerWatch, open_peer_watch
from ivr.adapters.postgres.takeover import CampaignAdopter, follow_do_not_call
from ivr.flowlang.ir import Project
from ivr.flowlang.project import load_project
from ivr.runtime.campaigns.model import Attempt, CampaignRun, Contact
from ivr.runtime.campaigns.runner import CampaignRunner, open_campaigns
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import Engine
from ivr.runtime.ports import Answered, DialRequest, DialResult
from ivr.runtime.testing import (
    FixtureOperations,
    MemoryCallRecords,
    MemoryChannels,
    ScriptedRouting,
    VirtualWallClock,
)
from ivr.runtime.testing.campaigns import Answer, ScriptedDialer

MONDAY_10_SHANGHAI = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SERVICE = """\
service: bank
languages: [en]
trunks:
  carrier: {gateway: 127.0.0.1:5090, channels: 10, reserve: 0, caller_id: "95500"}
campaigns:
  reminder:
    flow: reminder
    trunk: carrier
    contacts: {csv: contacts.csv}
    pacing: {max_concurrent: 2, calls_per_second: 50}
    retries:
      failed: {after: 1s, times: 1}  # an attempt cut by its instance's death: tried again
"""
FLOW = """\
flow: reminder
languages: [en]
outbound:
  contact: {name: {type: string}}
start: bye
nodes:
  bye: {type: hangup, prompt: "Goodbye."}
"""
BEAT, SILENT = 0.1, 1.0


def project(tmp_path: Path) -> Project:
    (tmp_path / "service.yaml").write_text(SERVICE)
    (tmp_path / "reminder.yaml").write_text(FLOW)
    (tmp_path / "contacts.csv").write_text("phone,name\n")
    loaded, diagnostics = load_project([tmp_path])
    assert [d for d in diagnostics if d.is_error] == []
    return loaded


def contacts(count: int) -> list[Contact]:
    return [Contact(f"c{i}", f"1380000000{i}", {"name": f"N{i}", "phone": "x"}) for i in range(count)]


@dataclass
class GatedDialer(ScriptedDialer):
    """Busy after a moment, except the numbers in `held`: those ring until `release`."""

    held: set[str] = field(default_factory=set)
    release: trio.Event = field(default_factory=trio.Event)

    async def call(self, request: DialRequest, answered: Answered) -> DialResult:
        if request.number in self.held:
            self.placed.append(request)
            await self.release.wait()
            return DialResult("busy", 486)
        return await super().call(request, answered)


@asynccontextmanager
async def instance(
    tmp_path: Path, url: str, name: str, dialer: ScriptedDialer
) -> AsyncIterator[tuple[PostgresCampaignStore, CampaignRunner]]:
    """One instance's campaign side: its store, its runner, its heartbeat watcher."""
    clock = VirtualWallClock(MONDAY_10_SHANGHAI)
    proj = project(tmp_path)
    ports = CallPorts(FixtureOperations({}), MemoryChannels(), ScriptedRouting(), MemoryCallRecords(), clock)
    async with (
        open_postgres_campaign_store(url, instance=name) as store,
        open_campaigns(proj, store, dialer, Engine(proj, ports), clock, tick=0.05) as runner,
        watching(url, name, runner) as watch,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(watch.run)
        nursery.start_soon(lambda: follow_do_not_call(runner, store, interval=BEAT))
        yield store, runner
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def watching(url: str, name: str, runner: CampaignRunner) -> AsyncIterator[PeerWatch]:
    """The instance's heartbeat with its campaign runner registered, claiming."""
    async with open_peer_watch(
        url, instance=name, schema=None, interval=BEAT, silent=SILENT, clock=runner.clock.now
    ) as watch:
        watch.add(CampaignAdopter(runner))
        watch.ready.set()
        yield watch


async def until(predicate: Callable[[], bool], seconds: float = 30) -> None:
    """Poll `predicate` (state in another instance's runner or the database: no event)."""
    with trio.fail_after(seconds):
        while not predicate():  # noqa: ASYNC110
            await trio.sleep(0.05)


async def test_a_live_instance_continues_a_silent_peers_run_without_calling_anyone_twice(
    postgres_url: str, tmp_path: Path
) -> None:
    dialer_a = ScriptedDialer(lambda request: Answer("busy", after=3600))  # calls up when A dies
    dialer_b = ScriptedDialer(lambda request: Answer("busy", after=0.01))
    async with instance(tmp_path, postgres_url, "b", dialer_b) as (store_b, runner_b):
        async with instance(tmp_path, postgres_url, "a", dialer_a) as (_, runner_a):
            await runner_a.create("reminder", contacts(6), "june")
            await runner_a.control("june", "start")
            await until(lambda: len(dialer_a.placed) == 2)
            await trio.sleep(2 * SILENT)  # A alive and beating: B adopts nothing
            assert "june" not in runner_b.cores
        died = trio.current_time()  # A gone (kill -9: its two calls left open in the store)
        await until(lambda: "june" in runner_b.cores)
        assert trio.current_time() - died < SILENT + 5 * BEAT + 2  # within the bound, roughly
        await until(lambda: runner_b.progress("june").state == "completed")
        records = await store_b.load("june")
        assert [r.run_id for r in await store_b.runs()] == ["june"]
    assert records is not None
    interrupted = [a for a in records.attempts if a.outcome == "interrupted"]
    assert sorted(a.number for a in interrupted) == sorted(r.number for r in dialer_a.placed)
    real = Counter(a.contact_id for a in records.attempts if a.outcome != "interrupted")
    assert real == {f"c{i}": 1 for i in range(6)}  # every contact reached once, none twice
    assert Counter(r.number for r in dialer_b.placed) == {c.number: 1 for c in contacts(6)}


class RunsOnly(CampaignAdopter):
    """Claims runs without a runner to drive them (the race test looks at the store)."""

    async def adopted(self, peer: str, ids: Sequence[str]) -> None:
        self.taken += ids


async def adopt(watch: PeerWatch, results: list[dict[str, list[str]]]) -> None:
    handed = await watch.beat_once()
    results.append({peer: taken["campaign runs"] for peer, taken in handed.items()})


async def silence(url: str, name: str) -> None:
    """`name`'s last beat an hour ago (its racing peers beat now)."""

    def write() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "UPDATE instance_beats SET beat_at = now() - interval '1 hour' WHERE instance = %s", (name,)
            )

    await trio.to_thread.run_sync(write)


@asynccontextmanager
async def racer(url: str, name: str) -> AsyncIterator[PeerWatch]:
    async with open_peer_watch(url, instance=name, schema=None, silent=60.0) as watch:
        watch.add(RunsOnly(None))  # type: ignore[arg-type]  # never drives a run
        watch.ready.set()
        yield watch


async def test_two_instances_noticing_a_silent_peer_together_adopt_its_runs_once(
    postgres_url: str,
) -> None:
    async with (
        open_postgres_campaign_store(postgres_url, instance="a") as a,
        open_postgres_campaign_store(postgres_url, instance="b") as b,
        open_postgres_campaign_store(postgres_url, instance="c") as c,
        open_peer_watch(postgres_url, instance="a", schema=None) as beats_a,
        racer(postgres_url, "b") as watch_b,
        racer(postgres_url, "b") as watch_b2,
        racer(postgres_url, "c") as watch_c,
        racer(postgres_url, "c") as watch_c2,
    ):
        for round_ in range(5):
            run_id = f"june{round_}"
            await a.create_run(CampaignRun(run_id, "reminder", "running", MONDAY_10_SHANGHAI), contacts(2))
            opened = Attempt(
                Attempt.make_id(run_id, "c0", 1), run_id, "c0", 1, "13800000000", MONDAY_10_SHANGHAI
            )
            await a.begin_attempt(opened)
            await beats_a.beat()
            await silence(postgres_url, "a")
            results: list[dict[str, list[str]]] = []
            async with trio.open_nursery() as nursery:
                for watch in (watch_b, watch_c, watch_b2, watch_c2):
                    nursery.start_soon(adopt, watch, results)
            assert sorted(results, key=len) == [{}, {}, {}, {"a": [run_id]}]
            records = await a.load(run_id)
            assert records is not None and [x.outcome for x in records.attempts] == ["interrupted"]
        assert sorted(r.run_id for r in await b.runs() + await c.runs()) == [f"june{i}" for i in range(5)]
        assert await a.runs() == []


async def test_an_opt_out_stored_by_one_instance_reaches_anothers_running_campaign(
    postgres_url: str, tmp_path: Path
) -> None:
    people = contacts(3)
    dialer = GatedDialer(
        lambda request: Answer("busy", after=0.01), held={people[0].number, people[1].number}
    )
    async with (
        open_postgres_campaign_store(postgres_url, instance="a") as store_a,
        instance(tmp_path, postgres_url, "b", dialer) as (store_b, runner_b),
    ):
        await runner_b.create("reminder", people, "june")
        await runner_b.control("june", "start")
        await until(lambda: len(dialer.placed) == 2)  # two channels busy: the third contact waits
        await store_a.add_do_not_call(people[2].number, MONDAY_10_SHANGHAI, source="sms")  # at A
        await until(lambda: people[2].number in runner_b.do_not_call, seconds=5 * BEAT + 5)
        dialer.release.set()
        await until(lambda: runner_b.progress("june").state == "completed")
        records = await store_b.load("june")
    assert records is not None
    assert people[2].number not in [r.number for r in dialer.placed]
    assert [(s.contact_id, s.reason) for s in records.skips] == [("c2", "do_not_call")]


async def test_one_beat_adopts_nothing_while_peers_beat(postgres_url: str, tmp_path: Path) -> None:
    async with (
        instance(tmp_path, postgres_url, "a", ScriptedDialer()) as (store_a, runner_a),
        open_peer_watch(postgres_url, instance="b", schema=None, silent=SILENT) as watch_b,
    ):
        await runner_a.create("reminder", contacts(1), "june")
        watch_b.ready.set()
        assert await watch_b.beat_once() == {}
        assert [r.run_id for r in await store_a.runs()] == ["june"]


async def test_an_instance_back_from_a_stall_gives_up_the_run_its_peer_took_and_dials_no_more(
    postgres_url: str, tmp_path: Path
) -> None:
    """A stalls (no heartbeat, its calls still up), B takes its run over; when A's calls end
    the store refuses A's outcome, and A stops driving the run instead of its runner dying
    or dialling on beside B."""
    dialer_a = GatedDialer(lambda request: Answer("busy", after=0.01), held={c.number for c in contacts(6)})
    dialer_b = ScriptedDialer(lambda request: Answer("busy", after=0.01))
    clock = VirtualWallClock(MONDAY_10_SHANGHAI)
    proj = project(tmp_path)
    ports = CallPorts(FixtureOperations({}), MemoryChannels(), ScriptedRouting(), MemoryCallRecords(), clock)
    async with (
        open_postgres_campaign_store(postgres_url, instance="a") as store_a,
        open_campaigns(proj, store_a, dialer_a, Engine(proj, ports), clock, tick=0.05) as runner_a,
        open_peer_watch(postgres_url, instance="a", schema=None),  # A beats once, then stalls
    ):
        await runner_a.create("reminder", contacts(6), "june")
        await runner_a.control("june", "start")
        await until(lambda: len(dialer_a.placed) == 2)
        async with instance(tmp_path, postgres_url, "b", dialer_b) as (store_b, runner_b):
            await until(lambda: "june" in runner_b.cores)
            dialer_a.release.set()  # A's stalled calls end now
            await until(lambda: "june" not in runner_a.cores)
            await until(lambda: runner_b.progress("june").state == "completed")
            records = await store_b.load("june")
    assert records is not None
    assert len(dialer_a.placed) == 2  # A placed nothing after the run was taken
    real = Counter(a.contact_id for a in records.attempts if a.outcome != "interrupted")
    assert real == {f"c{i}": 1 for i in range(6)}
