"""The outbox stores, SQLite (`Outbox`) and PostgreSQL (`PostgresOutbox`), pass the same
assertions: durable before return, claims of the oldest due message, the attempts, what a
restart settles, retries, receipts, inbound texts seen once, the delivery id as the
idempotency key; and two senders racing over one outbox send each message once."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from ivr.adapters.messaging import OutboxError, OutboxPlace, OutboxStore, open_outbox_at
from ivr.adapters.messaging.store import NewMessage
from ivr.adapters.postgres.database import Database
from ivr.adapters.postgres.outbox import PostgresOutbox, PostgresOutboxPlace
from ivr.runtime.ports import MessageOrigin

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
Opener = Callable[[str], Awaitable[OutboxStore]]
"""Opens the outbox under test as the instance named by its argument."""
_ids = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    place: OutboxPlace
    if request.param == "sqlite":
        place = tmp_path / "outbox.sqlite3"
    else:
        url = request.getfixturevalue("postgres_url")
        place = PostgresOutboxPlace(url, schema="tenant_default")

    async def open_as(instance: str) -> OutboxStore:
        where = replace(place, instance=instance) if isinstance(place, PostgresOutboxPlace) else place
        return await open_outbox_at(where)

    return open_as


def new(channel: str = "sms", text: str | None = "hello", origin: MessageOrigin | None = None) -> NewMessage:
    return NewMessage(f"d{next(_ids):04d}", channel, channel, "+8613800138000", text, None, 3, origin)


async def test_a_message_is_on_disk_with_its_origin_when_add_returns(opener: Opener) -> None:
    outbox = await opener("a")
    origin = MessageOrigin("call-9", "account", "send")
    mail = replace(new("email", None, origin), document={"title": "声明 statement", "n": [1, "2"]})
    sms = new("sms", "您的订单 \U0001f600")
    await outbox.add(mail, T0)
    await outbox.add(sms, T0 + timedelta(seconds=1))
    await outbox.aclose()
    outbox = await opener("a")
    [second, first] = await outbox.messages()
    assert (first.delivery_id, first.document, first.origin) == (mail.delivery_id, mail.document, origin)
    assert (second.message, second.status, second.attempts, second.max_attempts) == (
        sms.message,
        "queued",
        0,
        3,
    )
    assert first.created_at == T0 and first.next_attempt_at == T0
    assert [m.delivery_id for m in await outbox.messages(channel="sms")] == [sms.delivery_id]
    assert [m.delivery_id for m in await outbox.messages(call_id="call-9")] == [mail.delivery_id]
    assert await outbox.messages(status="dead") == []
    assert await outbox.counts() == {"email": {"queued": 1}, "sms": {"queued": 1}}
    await outbox.aclose()


async def test_a_delivery_id_is_stored_once(opener: Opener) -> None:
    outbox = await opener("a")
    message = new()
    await outbox.add(message, T0)
    with pytest.raises(OutboxError):
        await outbox.add(replace(message, message="another text"), T0)
    [kept] = await outbox.messages()
    assert kept.message == "hello"
    await outbox.aclose()


async def test_claims_take_the_oldest_due_message_and_count_each_attempt(opener: Opener) -> None:
    outbox = await opener("a")
    first, second = new(), new()
    await outbox.add(first, T0)
    await outbox.add(second, T0)
    assert await outbox.claim("email", T0) is None
    assert await outbox.claim("sms", T0 - timedelta(seconds=1)) is None  # not due yet
    claimed = await outbox.claim("sms", T0)
    assert claimed is not None and claimed.delivery_id == first.delivery_id
    assert (claimed.status, claimed.attempts) == ("sending", 1)
    later = T0 + timedelta(minutes=5)
    await outbox.finish(first.delivery_id, 1, status="queued", outcome="retry", detail="busy", now=T0,
                        error="busy", next_attempt_at=later)  # fmt: skip
    other = await outbox.claim("sms", T0)
    assert other is not None and other.delivery_id == second.delivery_id
    assert await outbox.claim("sms", T0) is None
    assert await outbox.next_due("sms") == later
    again = await outbox.claim("sms", later)
    assert again is not None and again.delivery_id == first.delivery_id and again.attempts == 2
    await outbox.mark_handoff(first.delivery_id, 2, later)
    await outbox.finish(first.delivery_id, 2, status="sent", outcome="sent", detail="250 ok", now=later,
                        gateway_ref="gw-1")  # fmt: skip
    [one, two] = await outbox.attempts(first.delivery_id)
    assert (one.outcome, one.detail, one.ended_at) == ("retry", "busy", T0)
    assert (two.outcome, two.handoff_at, two.ended_at) == ("sent", later, later)
    done = await outbox.get(first.delivery_id)
    assert done is not None and (done.status, done.sent_at, done.gateway_ref, done.last_error) == (
        "sent", later, "gw-1", "busy"
    )  # fmt: skip
    assert await outbox.status(second.delivery_id) == "sending" and await outbox.status("nope") is None
    await outbox.aclose()


async def test_a_restart_requeues_what_had_not_left_and_holds_what_might_have(opener: Opener) -> None:
    outbox = await opener("a")
    not_left, handed, resendable = new("email"), new("email"), new("sms")
    for message in (not_left, handed, resendable):
        await outbox.add(message, T0)
    for channel in ("email", "email", "sms"):
        claimed = await outbox.claim(channel, T0)
        assert claimed is not None
        if claimed.delivery_id != not_left.delivery_id:
            await outbox.mark_handoff(claimed.delivery_id, 1, T0)
    await outbox.aclose()  # the process stops here, in the middle of three attempts

    outbox = await opener("a")
    recovery = await outbox.recover({"sms"}, T0)
    assert set(recovery.requeued) == {not_left.delivery_id, resendable.delivery_id}
    assert recovery.in_doubt == (handed.delivery_id,)
    states = {m.delivery_id: (m.status, m.attempts) for m in await outbox.messages()}
    assert states[handed.delivery_id] == ("in_doubt", 1) and states[not_left.delivery_id] == ("queued", 1)
    [attempt] = await outbox.attempts(handed.delivery_id)
    assert attempt.outcome == "in_doubt" and attempt.handoff_at == T0
    retried = await outbox.retry(handed.delivery_id, T0, extra_attempts=3)
    assert retried is not None and (retried.status, retried.max_attempts) == ("queued", 4)
    assert await outbox.retry(handed.delivery_id, T0, extra_attempts=3) is None  # only dead or in doubt
    await outbox.aclose()


async def test_a_receipt_finds_its_message_by_the_gateways_reference_or_the_delivery_id(
    opener: Opener,
) -> None:
    outbox = await opener("a")
    one, two = new(), new()
    for message in (one, two):
        await outbox.add(message, T0)
        claimed = await outbox.claim("sms", T0)
        assert claimed is not None
        await outbox.finish(claimed.delivery_id, 1, status="sent", outcome="sent", detail="ok", now=T0,
                            gateway_ref=f"gw-{claimed.delivery_id}")  # fmt: skip
    got = await outbox.receipt("sms", f"gw-{one.delivery_id}", delivered=True, reason=None, now=T0)
    assert got is not None and got.status == "delivered"
    lost = await outbox.receipt("sms", two.delivery_id, delivered=False, reason="no such phone", now=T0)
    assert lost is not None and (lost.status, lost.last_error) == ("failed", "no such phone")
    assert await outbox.receipt("email", one.delivery_id, delivered=True, reason=None, now=T0) is None
    await outbox.aclose()


async def test_an_inbound_text_is_kept_once_and_its_answer_noted(opener: Opener) -> None:
    outbox = await opener("a")
    assert await outbox.note_inbound("sms", "g1", "+8613800138000", "BAL", T0)
    assert not await outbox.note_inbound("sms", "g1", "+8613800138000", "BAL", T0)  # a retried webhook
    assert await outbox.note_inbound("sms", "g2", "+8613800138000", "STOP", T0 + timedelta(seconds=1))
    await outbox.forget_inbound("sms", "g2")  # could not be answered: the retry may try
    assert await outbox.note_inbound("sms", "g2", "+8613800138000", "STOP", T0 + timedelta(seconds=2))
    await outbox.inbound_answered("sms", "g1", "BAL", "reply-1")
    [latest, first] = await outbox.inbound()
    assert (latest["id"], latest["keyword"]) == ("g2", None)
    assert (first["id"], first["keyword"], first["reply"], first["text"]) == ("g1", "BAL", "reply-1", "BAL")
    await outbox.aclose()


async def test_two_senders_racing_over_one_outbox_send_each_message_once(opener: Opener) -> None:
    outboxes = [await opener("a"), await opener("b")]
    queued = [new() for _ in range(40)]
    for message in queued:
        await outboxes[0].add(message, T0)
    sent: list[tuple[str, str]] = []

    async def sender(name: str, outbox: OutboxStore) -> None:
        while (claimed := await outbox.claim("sms", T0)) is not None:
            await outbox.mark_handoff(claimed.delivery_id, claimed.attempts, T0)
            sent.append((name, claimed.delivery_id))
            await outbox.finish(claimed.delivery_id, claimed.attempts, status="sent", outcome="sent",
                                detail="ok", now=T0)  # fmt: skip

    async with trio.open_nursery() as nursery:
        for name, outbox in zip("ab", outboxes, strict=True):
            for _ in range(2):  # two workers in each instance
                nursery.start_soon(sender, name, outbox)
    ids = [delivery_id for _, delivery_id in sent]
    assert sorted(ids) == sorted(m.delivery_id for m in queued)  # every one, none twice
    assert await outboxes[1].counts() == {"sms": {"sent": 40}}
    assert all(m.attempts == 1 for m in await outboxes[1].messages())
    for outbox in outboxes:
        await outbox.aclose()


async def test_on_the_database_a_restart_settles_only_its_own_instances_messages(postgres_url: str) -> None:
    place = PostgresOutboxPlace(postgres_url, "a", schema="tenant_default")
    a, b = await open_outbox_at(place), await open_outbox_at(replace(place, instance="b"))
    mine, theirs = new(), new()
    await a.add(mine, T0)
    await a.add(theirs, T0)
    assert (claimed := await a.claim("sms", T0)) is not None and claimed.delivery_id == mine.delivery_id
    assert (claimed := await b.claim("sms", T0)) is not None and claimed.delivery_id == theirs.delivery_id
    recovery = await a.recover(set(), T0)  # instance a restarted; b is still sending its message
    assert recovery.requeued == (mine.delivery_id,)
    assert await a.status(theirs.delivery_id) == "sending"
    await a.aclose()
    await b.aclose()


async def test_a_database_out_of_reach_is_an_outbox_error_the_workers_retry_after() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outbox = PostgresOutbox(Database(f"postgresql://ivr:s3cret@127.0.0.1:{port}/ivr"), "a")
    with pytest.raises(OutboxError, match="cannot be used") as raised:
        await outbox.claim("sms", T0)
    assert "s3cret" not in str(raised.value)
    await outbox.aclose()
