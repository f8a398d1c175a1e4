"""The outbox: messages checked for their channel and durable before `send` returns; the
states a message moves through; what a restart does with one left `sending`; the upgrade of
a version-1 outbox file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from gateways import STATEMENT, service

from ivr.adapters.errors import ConfigError
from ivr.adapters.messaging import open_messaging, open_outbox
from ivr.adapters.messaging.channels import ChannelSpec, OutboxChannels
from ivr.runtime.ports import DeliveryError, MessageOrigin

KINDS = {"sms": ChannelSpec("sms"), "email": ChannelSpec("email", 4), "fax": ChannelSpec("fax"),
         "alerts": ChannelSpec("sms")}  # fmt: skip
T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
BAD_SECTION = {"table": {"columns": ["a"], "rows": [[1, 2]]}}


async def test_valid_messages_are_queued_durably_with_where_they_came_from(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    outbox = await open_outbox(path)
    channels = OutboxChannels(outbox, KINDS, clock=lambda: T0)
    origin = MessageOrigin("call-9", "account", "send_email")
    sms = await channels.send("sms", "+8613800138000", "Your order is placed", None)
    mail = await channels.send("email", " li@example.com ", "Your statement", STATEMENT, origin=origin)
    fax = await channels.send("fax", "02112345678", None, "the body of a one-page fax")
    await outbox.aclose()
    outbox = await open_outbox(path)
    queued = await outbox.messages(status="queued")
    await outbox.aclose()
    assert [(m.delivery_id, m.kind, m.to) for m in reversed(queued)] == [
        (sms, "sms", "+8613800138000"),
        (mail, "email", "li@example.com"),
        (fax, "fax", "02112345678"),
    ]
    by_id = {m.delivery_id: m for m in queued}
    assert by_id[mail].document == {**STATEMENT, "sections": [_plain_section()]}
    assert by_id[mail].origin == origin and by_id[mail].max_attempts == 4
    assert by_id[fax].document == "the body of a one-page fax" and by_id[fax].message is None
    assert all(m.next_attempt_at == T0 and m.attempts == 0 for m in queued)


def _plain_section() -> dict[str, object]:
    """STATEMENT's section as stored: numbers in tables become text."""
    rows = [["2026-11-02", "买入 bought", "贵州茅台", "100", "-149950.00"]]
    columns = ["日期 Date", "摘要 Kind", "名称 Name", "数量 Qty", "金额 Amount"]
    return {"heading": "交易明细 Transactions", "table": {"columns": columns, "rows": rows}}


@pytest.mark.parametrize(
    ("channel", "to", "message", "document", "error"),
    [
        ("sms", "1234", "too short", None, "not a valid sms address"),
        ("sms", "1" * 21, "too long", None, "not a valid sms address"),
        ("alerts", "138-0013", "not digits", None, "not a valid sms address"),
        ("fax", "fax me", "not digits", None, "not a valid fax address"),
        ("email", "li.example.com", "no @", None, "not a valid email address"),
        ("email", "li@", "no domain", None, "not a valid email address"),
        ("email", "a@b.c, x@y.z", "two addresses", None, "not a valid email address"),
        ("pager", "12345", "hi", None, "no channel 'pager'"),
        ("sms", "12345", None, None, "nothing to send"),
        ("sms", "12345", "hi", {"title": "t"}, "text only, no document"),
        ("sms", "12345", "字" * 1001, None, "at most 1000 characters"),
        ("email", "a@b.c", "hi", {"body": "no title"}, "a document needs a `title`"),
        (
            "email",
            "a@b.c",
            "hi",
            {"title": "t", "sections": [BAD_SECTION]},
            "row 1 of the table of section 1",
        ),
        ("email", "a@b.c", "hi", 42, "a document is text or a mapping with a title"),
    ],
)
async def test_a_message_its_channel_cannot_carry_is_refused_and_not_stored(
    tmp_path: Path, channel: str, to: str, message: str | None, document: object, error: str
) -> None:
    outbox = await open_outbox(tmp_path / "o.db")
    channels = OutboxChannels(outbox, KINDS)
    with pytest.raises(DeliveryError, match=error.replace("(", r"\(")):
        await channels.send(channel, to, message, document)
    assert await outbox.messages() == []
    await outbox.aclose()


async def test_claims_take_the_oldest_due_message_and_count_the_attempt(tmp_path: Path) -> None:
    outbox = await open_outbox(tmp_path / "o.db")
    channels = OutboxChannels(outbox, KINDS, clock=lambda: T0)
    first = await channels.send("sms", "12345", "one", None)
    await channels.send("sms", "12345", "two", None)
    assert await outbox.claim("email", T0) is None
    claimed = await outbox.claim("sms", T0)
    assert claimed is not None and claimed.delivery_id == first
    assert (claimed.status, claimed.attempts) == ("sending", 1)
    later = T0 + timedelta(minutes=5)
    await outbox.finish(first, 1, status="queued", outcome="retry", detail="busy", now=T0, error="busy",
                        next_attempt_at=later)  # fmt: skip
    second = await outbox.claim("sms", T0)
    assert second is not None and second.delivery_id != first
    assert await outbox.claim("sms", T0) is None  # the first waits for its back-off
    assert await outbox.next_due("sms") == later
    again = await outbox.claim("sms", later)
    assert again is not None and again.delivery_id == first and again.attempts == 2
    [one, two] = await outbox.attempts(first)
    assert (one.outcome, one.detail, two.outcome) == ("retry", "busy", None)
    await outbox.aclose()


async def test_a_restart_requeues_what_had_not_left_and_holds_what_might_have(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    outbox = await open_outbox(path)
    channels = OutboxChannels(outbox, KINDS, clock=lambda: T0)
    not_left = await channels.send("email", "a@b.c", "one", None)
    handed = await channels.send("email", "a@b.c", "two", None)
    resendable = await channels.send("sms", "12345", "three", None)
    for channel in ("email", "email", "sms"):
        claimed = await outbox.claim(channel, T0)
        assert claimed is not None
        if claimed.delivery_id != not_left:
            await outbox.mark_handoff(claimed.delivery_id, 1, T0)
    await outbox.aclose()  # the process stops here, in the middle of three attempts

    outbox = await open_outbox(path)
    recovery = await outbox.recover(resend={"sms"}, now=T0)
    states = {m.delivery_id: (m.status, m.attempts) for m in await outbox.messages()}
    assert set(recovery.requeued) == {not_left, resendable} and recovery.in_doubt == (handed,)
    assert states == {not_left: ("queued", 1), handed: ("in_doubt", 1), resendable: ("queued", 1)}
    [attempt] = await outbox.attempts(handed)
    assert attempt.outcome == "in_doubt" and attempt.handoff_at == T0
    retried = await outbox.retry(handed, T0, extra_attempts=3)
    assert retried is not None and (retried.status, retried.max_attempts) == ("queued", 4)
    assert await outbox.retry(handed, T0, extra_attempts=3) is None  # only dead or in-doubt ones
    await outbox.aclose()


async def test_a_version_1_outbox_is_upgraded_with_its_pending_messages_queued(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        """CREATE TABLE schema_migrations (component TEXT, version INTEGER, applied_at TEXT,
                PRIMARY KEY (component, version));
           INSERT INTO schema_migrations VALUES ('outbox', 1, '2026-11-01T00:00:00+00:00');
           CREATE TABLE outbox (delivery_id TEXT PRIMARY KEY, channel TEXT NOT NULL, kind TEXT NOT NULL,
                recipient TEXT NOT NULL, message TEXT, document_ref TEXT, created_at TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending');
           INSERT INTO outbox VALUES ('a1', 'email', 'email', 'li@example.com', 'hi', '{"title":"T"}',
                '2026-11-01T01:00:00.000000+00:00', 'pending');
           INSERT INTO outbox VALUES ('b2', 'fax', 'fax', '02112345678', NULL, 'statements/2026-02.pdf',
                '2026-11-01T02:00:00.000000+00:00', 'pending');
           INSERT INTO outbox VALUES ('c3', 'sms', 'sms', '12345', 'hi', NULL,
                '2026-11-01T03:00:00.000000+00:00', 'sent');"""
    )
    conn.close()
    outbox = await open_outbox(path)
    found = {m.delivery_id: m for m in await outbox.messages()}
    await outbox.aclose()
    assert {k: m.status for k, m in found.items()} == {"a1": "queued", "b2": "queued", "c3": "sent"}
    assert found["a1"].document == {"title": "T"} and found["b2"].document == "statements/2026-02.pdf"
    assert found["a1"].next_attempt_at == datetime(2026, 11, 1, 1, tzinfo=UTC)


async def test_outbox_and_call_records_can_share_one_file(tmp_path: Path) -> None:
    from ivr.adapters.storage import open_sqlite_call_records

    path = tmp_path / "ivr.db"
    async with open_sqlite_call_records(path):
        outbox = await open_outbox(path)
        await OutboxChannels(outbox, KINDS).send("sms", "12345", "hi", None)
        await outbox.aclose()


async def test_an_unset_variable_in_the_settings_is_a_configuration_error(tmp_path: Path) -> None:
    svc = service("email: {kind: email, from: a@b.c, smtp: {host: '${NO_SUCH_HOST}'}}")
    with pytest.raises(ConfigError, match=r"channel 'email': smtp.host refers to \$\{NO_SUCH_HOST\}"):
        async with open_messaging(tmp_path / "o.db", svc, {}):
            pass


async def test_a_channel_without_a_gateway_keeps_its_messages_queued(tmp_path: Path) -> None:
    async with open_messaging(tmp_path / "o.db", service("sms: {kind: sms}"), {}) as messaging:
        assert messaging.workers == [] and messaging.describe() == [
            "  channel sms: sms, no gateway: messages wait in the outbox"
        ]
        delivery = await messaging.channels.send("sms", "12345", "hi", None)
        assert await messaging.channels.wait_delivery(delivery, Decimal("0.1")) == "pending"
