"""The PostgreSQL campaign store shared by several instances: an attempt is placed once
whichever instance tries, each instance resumes (and dials) only its own runs, its recovery
closes only its own open attempts, a dead peer's runs are adopted once, and a standing
(followed) run is followed by the instance that created it, the other leaving it alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from ivr.adapters.dialer.follow import follow, standing_run
from ivr.adapters.postgres.campaigns import open_postgres_campaign_store
from ivr.flowlang.project import load_project
from ivr.runtime.campaigns.model import Attempt, CampaignRun, Contact
from ivr.runtime.campaigns.runner import open_campaigns
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import Engine
from ivr.runtime.ports import StoreConflict
from ivr.runtime.testing import (
    FixtureOperations,
    MemoryCallRecords,
    MemoryChannels,
    ScriptedRouting,
    VirtualWallClock,
)
from ivr.runtime.testing.campaigns import Answer, ScriptedDialer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONTACTS = (Contact("c1", "13800000001", {}), Contact("c2", "13800000002", {}))


def attempt(contact: str) -> Attempt:
    return Attempt(Attempt.make_id("june", contact, 1), "june", contact, 1, "1380000000" + contact[-1], T0)


async def test_two_instances_cannot_place_the_same_attempt(postgres_url: str) -> None:
    async with (
        open_postgres_campaign_store(postgres_url, instance="a") as a,
        open_postgres_campaign_store(postgres_url, instance="b") as b,
    ):
        await a.create_run(CampaignRun("june", "reminder", "running", T0), CONTACTS)
        await a.begin_attempt(attempt("c1"))
        with pytest.raises(StoreConflict):
            await b.begin_attempt(attempt("c1"))
        await a.add_do_not_call("13800000009", T0, source="sms")
        assert await b.do_not_call() == {"13800000009"}


async def test_recovery_closes_only_the_instances_own_open_attempts(postgres_url: str) -> None:
    async with (
        open_postgres_campaign_store(postgres_url, instance="a") as a,
        open_postgres_campaign_store(postgres_url, instance="b") as b,
    ):
        await a.create_run(CampaignRun("june", "reminder", "running", T0), CONTACTS)
        await b.create_run(CampaignRun("july", "reminder", "running", T0), CONTACTS)
        await a.begin_attempt(attempt("c1"))
        on_july = Attempt(Attempt.make_id("july", "c2", 1), "july", "c2", 1, "13800000002", T0)
        await b.begin_attempt(on_july)
        assert await b.recover(T0) == [on_july.attempt_id]
        june, july = await a.load("june"), await a.load("july")
        assert june is not None and july is not None
        assert {x.contact_id: x.outcome for x in june.attempts} == {"c1": None}
        assert {x.contact_id: x.outcome for x in july.attempts} == {"c2": "interrupted"}
        assert await b.recover_instance("a", T0) == [attempt("c1").attempt_id]
        assert await a.recover_instance("a", T0) == []


async def test_an_instance_cannot_place_an_attempt_of_a_run_another_instance_drives(
    postgres_url: str,
) -> None:
    async with (
        open_postgres_campaign_store(postgres_url, instance="a") as a,
        open_postgres_campaign_store(postgres_url, instance="b") as b,
    ):
        await a.create_run(CampaignRun("june", "reminder", "running", T0), CONTACTS)
        with pytest.raises(StoreConflict, match="belongs to instance 'a'"):
            await b.begin_attempt(attempt("c2"))


async def test_each_instance_resumes_only_its_own_runs_and_adopts_a_dead_peers_once(
    postgres_url: str,
) -> None:
    async with (
        open_postgres_campaign_store(postgres_url, instance="a") as a,
        open_postgres_campaign_store(postgres_url, instance="b") as b,
    ):
        await a.create_run(CampaignRun("june", "reminder", "running", T0), CONTACTS)
        await b.create_run(CampaignRun("july", "reminder", "running", T0), CONTACTS)
        assert [r.run_id for r in await a.runs()] == ["june"]
        assert [r.run_id for r in await b.runs()] == ["july"]
        assert (await b.load("june")) is not None  # readable by all, dialled by its owner
        await a.begin_attempt(attempt("c1"))
        assert await b.adopt_runs("a", T0) == ["june"]
        assert await b.adopt_runs("a", T0) == []
        assert sorted(r.run_id for r in await b.runs()) == ["july", "june"]
        records = await b.load("june")
        assert records is not None and [x.outcome for x in records.attempts] == ["interrupted"]


async def test_a_standing_run_is_followed_by_the_instance_that_created_it_and_left_alone_by_the_other(
    postgres_url: str, tmp_path: Path
) -> None:
    project, problems = load_project([Path(__file__).parents[2] / "flows"])
    assert not [d for d in problems if d.is_error]
    decl = project.service.campaigns["order_notices"]  # type: ignore[union-attr]
    clock = VirtualWallClock(T0)
    ports = CallPorts(FixtureOperations({}), MemoryChannels(), ScriptedRouting(), MemoryCallRecords(), clock)
    dialer = ScriptedDialer(lambda request: Answer("no_answer"))
    async with (
        open_postgres_campaign_store(postgres_url, instance="a") as a,
        open_postgres_campaign_store(postgres_url, instance="b") as b,
        open_campaigns(project, a, dialer, Engine(project, ports), clock) as runner_a,
        open_campaigns(project, b, dialer, Engine(project, ports), clock) as runner_b,
    ):
        assert await standing_run(runner_a, decl) == decl.name
        with trio.fail_after(10):  # returns instead of following (or failing the server)
            await follow(runner_b, decl, tmp_path)
        assert decl.name not in runner_b.cores and [r.run_id for r in await a.runs()] == [decl.name]
