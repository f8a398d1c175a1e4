"""The `CampaignStore` contract: what every campaign store must do, as async checks.

Run them over a store factory (`StoreFactory`: an async context manager yielding a fresh,
empty store; `reopen` yields the same storage again, as after a restart) with `CHECKS`; the
in-memory store and the SQLite store both pass them (tests/outbound/test_campaign_store.py),
and so must any other (a PostgreSQL one for a cluster).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ivr.runtime.campaigns.model import Attempt, CampaignRun, Contact, Skip
from ivr.runtime.ports import CampaignStore, StoreConflict

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONTACTS = (
    Contact("c1", "13800000001", {"name": "李伟", "amount": "12.50"}, "Asia/Shanghai"),
    Contact("c2", "13800000002", {"name": "Ann", "vip": True, "n": 3}),
)


class StoreFactory(Protocol):
    def fresh(self) -> AbstractAsyncContextManager[CampaignStore]: ...
    def reopen(self) -> AbstractAsyncContextManager[CampaignStore]: ...


Check = Callable[[StoreFactory], Awaitable[None]]


def _run(run_id: str = "june") -> CampaignRun:
    return CampaignRun(run_id, "reminder", "created", T0)


def _attempt(contact: str = "c1", n: int = 1, at: datetime = T0) -> Attempt:
    return Attempt(Attempt.make_id("june", contact, n), "june", contact, n, "1380000000" + contact[-1], at)


async def a_run_comes_back_with_its_contacts_and_fields(factory: StoreFactory) -> None:
    async with factory.fresh() as store:
        await store.create_run(_run(), CONTACTS)
    async with factory.reopen() as store:
        [run] = await store.runs()
        assert (run.run_id, run.campaign, run.state, run.contacts) == ("june", "reminder", "created", 2)
        records = await store.load("june")
        assert records is not None and records.contacts == CONTACTS
        assert await store.load("july") is None


async def a_run_id_is_taken_once(factory: StoreFactory) -> None:
    async with factory.fresh() as store:
        await store.create_run(_run(), CONTACTS)
        await _refused(store.create_run(_run(), ()))


async def the_state_is_kept(factory: StoreFactory) -> None:
    async with factory.fresh() as store:
        await store.create_run(_run(), CONTACTS)
        await store.set_state("june", "paused", T0)
    async with factory.reopen() as store:
        [run] = await store.runs()
        assert run.state == "paused"


async def an_attempt_is_stored_before_and_after_and_never_twice(factory: StoreFactory) -> None:
    async with factory.fresh() as store:
        await store.create_run(_run(), CONTACTS)
        await store.begin_attempt(_attempt())
        await _refused(store.begin_attempt(_attempt()))
        later = T0 + timedelta(seconds=30)
        await store.finish_attempt(
            "june-c1-1", "answered", later, disposition="opted_out", ran_flow=True, detail="pressed 9"
        )
        await _refused(store.finish_attempt("june-c1-1", "busy", later))
        await _refused(store.finish_attempt("june-c9-1", "busy", later))
    async with factory.reopen() as store:
        records = await store.load("june")
        assert records is not None
        [attempt] = records.attempts
        assert (attempt.outcome, attempt.ended_at, attempt.disposition, attempt.ran_flow, attempt.detail) == (
            "answered",
            later,
            "opted_out",
            True,
            "pressed 9",
        )
        assert (attempt.number, attempt.started_at, attempt.n) == ("13800000001", T0, 1)


async def open_attempts_are_closed_as_interrupted_at_recovery(factory: StoreFactory) -> None:
    async with factory.fresh() as store:
        await store.create_run(_run(), CONTACTS)
        await store.begin_attempt(_attempt("c1"))
        await store.begin_attempt(_attempt("c2"))
        await store.finish_attempt("june-c2-1", "busy", T0)
    async with factory.reopen() as store:
        assert await store.recover(T0 + timedelta(minutes=1)) == ["june-c1-1"]
        assert await store.recover(T0 + timedelta(minutes=2)) == []
        records = await store.load("june")
        assert records is not None
        outcomes = {a.attempt_id: (a.outcome, a.ended_at) for a in records.attempts}
        assert outcomes == {
            "june-c1-1": ("interrupted", T0 + timedelta(minutes=1)),
            "june-c2-1": ("busy", T0),
        }


async def skips_and_the_do_not_call_list_are_kept(factory: StoreFactory) -> None:
    async with factory.fresh() as store:
        await store.create_run(_run(), CONTACTS)
        await store.skip(Skip("june", "c2", "do_not_call", T0))
        await store.add_do_not_call("13800000002", T0, source="june-c2-1")
        await store.add_do_not_call("13800000002", T0, source="again")
    async with factory.reopen() as store:
        assert await store.do_not_call() == {"13800000002"}
        records = await store.load("june")
        assert records is not None and records.skips == (Skip("june", "c2", "do_not_call", T0),)


async def attempts_of_an_unknown_run_are_refused(factory: StoreFactory) -> None:
    async with factory.fresh() as store:
        await _refused(store.begin_attempt(_attempt()))
        await _refused(store.set_state("june", "running", T0))


async def contacts_added_to_a_run_are_kept_once_and_reopen_a_completed_run(factory: StoreFactory) -> None:
    extra = Contact("n1", "13800000003", {"name": "Wang"})
    async with factory.fresh() as store:
        await store.create_run(_run(), CONTACTS)
        await store.set_state("june", "completed", T0)
        assert await store.add_contacts("june", [extra], T0) == ["n1"]
        assert await store.add_contacts("june", [extra, CONTACTS[0]], T0) == []  # a retried add
        await _refused(store.add_contacts("july", [extra], T0))
    async with factory.reopen() as store:
        [run] = await store.runs()
        assert (run.state, run.contacts) == ("running", 3)
        records = await store.load("june")
        assert records is not None and records.contacts == (*CONTACTS, extra)
        await store.set_state("june", "stopped", T0)
        await _refused(store.add_contacts("june", [Contact("n2", "13800000004")], T0))


async def _refused(write: Awaitable[object]) -> None:
    try:
        await write
    except StoreConflict:
        return
    raise AssertionError("the store accepted a write it must refuse")


CHECKS: tuple[Check, ...] = (
    a_run_comes_back_with_its_contacts_and_fields,
    a_run_id_is_taken_once,
    the_state_is_kept,
    an_attempt_is_stored_before_and_after_and_never_twice,
    open_attempts_are_closed_as_interrupted_at_recovery,
    skips_and_the_do_not_call_list_are_kept,
    attempts_of_an_unknown_run_are_refused,
    contacts_added_to_a_run_are_kept_once_and_reopen_a_completed_run,
)
