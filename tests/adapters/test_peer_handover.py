"""A silent instance's messages and kept callback places continue at a live one (PostgreSQL):
the live instance's heartbeat (`PeerWatch`) claims the peer once, settles the messages the
peer had claimed mid-send (sent here once, or held in doubt for an operator when a gateway
may have them already), and calls back the customers whose places the peer kept; two live
instances noticing together hand the peer over once; the silent instance, back, can neither
send nor settle what it lost."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import psycopg
import pytest
import trio

from ivr.adapters.hosting.handover import OutboxAdopter, PlacesAdopter
from ivr.adapters.messaging import Messaging, OutboxError, open_messaging
from ivr.adapters.messaging.store import NewMessage
from ivr.adapters.messaging.testing import ScriptedTransport
from ivr.adapters.postgres.callbacks import PostgresCallbackJournal, open_postgres_callback_journal
from ivr.adapters.postgres.outbox import PostgresOutbox, PostgresOutboxPlace, open_postgres_outbox
from ivr.adapters.postgres.peers import PeerWatch, open_peer_watch
from ivr.flowlang.compile import compile_service
from ivr.flowlang.ir import Service
from ivr.flowlang.yamlsource import load_yaml
from ivr.runtime.acd import AcdSettings, AgentState, QueueConfig, open_acd
from ivr.runtime.acd.callbacks import CallbackSettings
from ivr.runtime.ports import KeptPlace
from ivr.runtime.testing.acd import MemoryAgentConnector
from ivr.runtime.testing.campaigns import Answer, ScriptedDialer

SCHEMA = "tenant_bank"
T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
BEAT, SILENT = 0.1, 1.0
CHANNELS = """service: bank
channels:
  sms: {kind: sms, timeout: 2s, retry: {attempts: 3, backoff: 50ms}}
  safe: {kind: sms, dedupe: true, timeout: 2s, retry: {attempts: 3, backoff: 50ms}}
"""
QUEUES = AcdSettings({"general": QueueConfig("general", announce_every=None, wrap_up=0)})


def service() -> Service:
    loaded = load_yaml(CHANNELS, "service.yaml")
    compiled, problems = compile_service(loaded.data, loaded.source_map, "service.yaml")
    assert compiled is not None and not [p for p in problems if p.is_error], problems
    return compiled


def message(delivery_id: str, channel: str) -> NewMessage:
    return NewMessage(delivery_id, channel, "sms", "+8613800138000", f"text of {delivery_id}", None, 3, None)


async def until(predicate: Callable[[], bool], seconds: float = 30) -> None:
    """Poll `predicate` (the other instance works in threads and the database: no event)."""
    with trio.fail_after(seconds):
        while not predicate():  # noqa: ASYNC110
            await trio.sleep(0.05)


async def silence(url: str, instance: str) -> None:
    """`instance`'s last beat an hour ago, as if it died then."""

    def write() -> None:
        with psycopg.connect(url, autocommit=True, options=f"-c search_path={SCHEMA}") as conn:
            conn.execute(
                "UPDATE instance_beats SET beat_at = now() - interval '1 hour' WHERE instance = %s",
                (instance,),
            )

    await trio.to_thread.run_sync(write)


@asynccontextmanager
async def outbox_of(url: str, instance: str) -> AsyncIterator[PostgresOutbox]:
    outbox = await open_postgres_outbox(PostgresOutboxPlace(url, instance, SCHEMA))
    try:
        yield outbox
    finally:
        await outbox.aclose()


@asynccontextmanager
async def live_instance(
    url: str,
    name: str,
    transports: dict[str, ScriptedTransport],
    dialer: ScriptedDialer,
    *,
    beating: bool = True,
) -> AsyncIterator[tuple[PeerWatch, Messaging, PostgresCallbackJournal, MemoryAgentConnector]]:
    """A live instance's tenant: its outbox with delivery workers, its ACD with callbacks
    and one ready agent, and its heartbeat with both adopters (as `ivr serve` wires them)."""
    place = PostgresOutboxPlace(url, name, SCHEMA)
    connector = MemoryAgentConnector()
    async with (
        open_peer_watch(url, instance=name, schema=SCHEMA, interval=BEAT, silent=SILENT) as watch,
        open_messaging(place, service(), {}, transports=transports) as messaging,
        open_postgres_callback_journal(url, instance=name, schema=SCHEMA) as journal,
        open_acd(connector, QUEUES, CallbackSettings(dialer, journal, "carrier")) as acd,
        trio.open_nursery() as nursery,
    ):
        acd.login("a1", "sip:a1@pbx", {}, ready=True)
        watch.add(OutboxAdopter(messaging))
        watch.add(PlacesAdopter(acd))
        watch.ready.set()
        await nursery.start(messaging.run)
        if beating:  # else the test beats
            nursery.start_soon(watch.run)
        yield watch, messaging, journal, connector
        nursery.cancel_scope.cancel()


async def test_a_live_instance_sends_a_silent_peers_messages_once_and_calls_back_its_kept_places(
    postgres_url: str,
) -> None:
    url = postgres_url
    async with (
        outbox_of(url, "a") as outbox_a,
        open_postgres_callback_journal(url, instance="a", schema=SCHEMA) as journal_a,
        open_peer_watch(url, instance="a", schema=SCHEMA),  # A beats once, then dies
    ):
        # what A held when it died: m1 claimed, nothing sent yet; m2 and m3 being handed to
        # their gateways (m3's drops a second copy with the same id); m4 queued only (for any)
        for delivery_id, channel in (("m1", "sms"), ("m2", "sms"), ("m3", "safe"), ("m4", "sms")):
            await outbox_a.add(message(delivery_id, channel), T0)
        claimed = [await outbox_a.claim("sms", T0), await outbox_a.claim("sms", T0)]
        assert [m.delivery_id for m in claimed if m] == ["m1", "m2"]
        assert (safe := await outbox_a.claim("safe", T0)) is not None
        await outbox_a.mark_handoff("m2", 1, T0)
        await outbox_a.mark_handoff("m3", 1, T0)
        for call_id, number in (("kept-1", "13911110001"), ("kept-2", "13911110002")):
            await journal_a.keep(KeptPlace(call_id, "general", [], 0, number, T0))
        await journal_a.step("kept-2", "connected", T0)  # called back before A died: closed

        sms, dedupe = ScriptedTransport(), ScriptedTransport()
        dialer = ScriptedDialer(lambda request: Answer("busy", after=0.01))
        async with live_instance(url, "b", {"sms": sms, "safe": dedupe}, dialer) as (watch, _, journal_b, _):
            await trio.sleep(3 * BEAT)
            # while A beats, B sends what A only queued (any worker claims a queued message)
            # and leaves what A claimed and the places it kept alone
            assert [m.delivery_id for m in sms.attempts] == ["m4"] and dialer.placed == []
            assert [m.delivery_id for m in await outbox_a.messages(status="sending")] == ["m3", "m2", "m1"]
            await silence(url, "a")
            await until(
                lambda: len(sms.delivered) == 2 and len(dedupe.delivered) == 1 and len(dialer.placed) == 1
            )
            await trio.sleep(5 * BEAT)  # nothing more comes
            statuses = {m.delivery_id: m.status for m in await outbox_a.messages()}
            assert sorted(m.delivery_id for m in sms.delivered) == ["m1", "m4"]
            assert [m.delivery_id for m in dedupe.delivered] == ["m3"]  # resent under its key
            assert [r.number for r in dialer.placed] == ["13911110001"]
            assert [p.call_id for p in await journal_b.pending()] == ["kept-1"]
            assert await journal_a.pending() == []
        assert statuses == {"m1": "sent", "m2": "in_doubt", "m3": "sent", "m4": "sent"}
        assert all(m.delivery_id != "m2" for m in sms.attempts)  # in doubt: for an operator

        # A, back from its silence, finishes what it had under way: refused, nothing changes
        with pytest.raises(OutboxError, match="no longer instance 'a'"):
            await outbox_a.mark_handoff("m1", 1, T0)
        with pytest.raises(OutboxError, match="no longer instance 'a'"):
            await outbox_a.finish("m2", 1, status="sent", outcome="sent", detail="late", now=T0)
        assert safe.delivery_id == "m3"
        with pytest.raises(OutboxError):
            await outbox_a.finish("m3", 1, status="queued", outcome="retry", detail="late", now=T0)
        assert {m.delivery_id: m.status for m in await outbox_a.messages()} == statuses
        assert await watch.beat_once() == {}  # A was handed over once


async def test_two_live_instances_noticing_a_silent_peer_together_hand_it_over_once(
    postgres_url: str,
) -> None:
    url = postgres_url
    for round_ in range(3):
        async with (
            outbox_of(url, "a") as outbox_a,
            open_postgres_callback_journal(url, instance="a", schema=SCHEMA) as journal_a,
            open_peer_watch(url, instance="a", schema=SCHEMA),
        ):
            await outbox_a.add(message(f"r{round_}", "sms"), T0)
            assert await outbox_a.claim("sms", T0) is not None
            await journal_a.keep(KeptPlace(f"kept-{round_}", "general", [], 0, "13911110001", T0))
        await silence(url, "a")
        results: list[dict[str, dict[str, list[str]]]] = []
        async with (
            racer(url, "b") as b,
            racer(url, "c") as c,
            trio.open_nursery() as nursery,
        ):
            for watch in (b, c):
                nursery.start_soon(hand_over, watch, results)
        taken = [r for r in results if r]
        assert taken == [{"a": {"messages": [f"r{round_}"], "kept places": [f"kept-{round_}"]}}]


@asynccontextmanager
async def racer(url: str, name: str) -> AsyncIterator[PeerWatch]:
    """A live instance's heartbeat with both adopters, nothing running (the race looks at
    what each claim returned)."""
    busy = ScriptedDialer(lambda request: Answer("busy", after=0.01))
    transports = {"sms": ScriptedTransport(), "safe": ScriptedTransport()}
    async with live_instance(url, name, transports, busy, beating=False) as (watch, *_):
        yield watch


async def hand_over(watch: PeerWatch, results: list[dict[str, dict[str, list[str]]]]) -> None:
    results.append(await watch.beat_once())


async def test_an_instance_back_from_a_stall_does_not_call_back_a_place_its_peer_took(
    postgres_url: str,
) -> None:
    url = postgres_url
    dialer = ScriptedDialer(lambda request: Answer("busy", after=0.01))
    async with open_postgres_callback_journal(url, instance="a", schema=SCHEMA) as journal_a:
        await journal_a.keep(KeptPlace("kept-1", "general", [], 0, "13911110001", T0))
        async with (
            open_acd(MemoryAgentConnector(), QUEUES, CallbackSettings(dialer, journal_a, "carrier")) as acd_a,
            open_peer_watch(url, instance="a", schema=SCHEMA),
        ):
            # A read its place back at its start, then stalled: B took it over meanwhile
            await silence(url, "a")
            async with racer(url, "b") as watch_b:
                assert await watch_b.beat_once() == {"a": {"messages": [], "kept places": ["kept-1"]}}
            acd_a.login("a1", "sip:a1@pbx", {}, ready=True)  # A back: its agent is offered the place
            assert acd_a.statistics().agents["a1"].state is AgentState.RESERVED
            await until(lambda: acd_a.statistics().agents["a1"].state is AgentState.READY)
            assert dialer.placed == []  # the journal refused A's call back: nobody dialled twice
            assert acd_a.statistics().queues["general"].abandoned == 0  # not counted here
            assert await journal_a.pending() == []
