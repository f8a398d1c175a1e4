"""OutboxChannels: addresses validated per channel kind; messages durable before `send` returns."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.adapters.channels import open_outbox_channels
from ivr.adapters.data import ServiceConfigError
from ivr.runtime.ports import DeliveryError

CHANNELS = {"sms": "sms", "email": "email", "fax": "fax", "alerts": "sms"}


async def test_valid_messages_are_queued_durably_as_pending(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with open_outbox_channels(path, CHANNELS) as channels:
        sms = await channels.send("sms", "+8613800138000", "Your order is placed", None)
        mail = await channels.send("email", "li@example.com", "Your statement", {"statement": "2026-02"})
        fax = await channels.send("fax", "02112345678", None, "statements/2026-02.pdf")
    async with open_outbox_channels(path, CHANNELS) as channels:
        queued = await channels.messages(status="pending")
    assert [(m.delivery_id, m.kind, m.to) for m in queued] == [
        (sms, "sms", "+8613800138000"),
        (mail, "email", "li@example.com"),
        (fax, "fax", "02112345678"),
    ]
    assert queued[1].document_ref == '{"statement":"2026-02"}'
    assert queued[2].message is None and queued[2].document_ref == "statements/2026-02.pdf"


@pytest.mark.parametrize(
    ("channel", "to", "message"),
    [
        ("sms", "1234", "too short"),
        ("sms", "1" * 21, "too long"),
        ("alerts", "138-0013", "not digits"),
        ("fax", "fax me", "not digits"),
        ("email", "li.example.com", "no @"),
        ("email", "li@", "no domain"),
    ],
)
async def test_invalid_addresses_are_refused(tmp_path: Path, channel: str, to: str, message: str) -> None:
    async with open_outbox_channels(tmp_path / "o.db", CHANNELS) as channels:
        with pytest.raises(DeliveryError, match=f"not a valid {CHANNELS[channel]} address"):
            await channels.send(channel, to, message, None)
        assert await channels.messages() == []


async def test_unknown_channel_and_empty_message_are_delivery_errors(tmp_path: Path) -> None:
    async with open_outbox_channels(tmp_path / "o.db", CHANNELS) as channels:
        with pytest.raises(DeliveryError, match="no channel 'pager'"):
            await channels.send("pager", "12345", "hi", None)
        with pytest.raises(DeliveryError, match="nothing to send"):
            await channels.send("sms", "12345", None, None)


async def test_a_gateway_can_mark_messages_sent(tmp_path: Path) -> None:
    async with open_outbox_channels(tmp_path / "o.db", CHANNELS) as channels:
        delivery_id = await channels.send("sms", "12345", "hi", None)
        await channels.mark(delivery_id, "sent")
        assert await channels.messages(status="pending") == []
        assert [m.status for m in await channels.messages()] == ["sent"]


async def test_an_unknown_channel_kind_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ServiceConfigError, match="channel 'chat': unknown kind 'whatsapp'"):
        async with open_outbox_channels(tmp_path / "o.db", {"chat": "whatsapp"}):
            pass


async def test_outbox_and_call_records_can_share_one_file(tmp_path: Path) -> None:
    from ivr.adapters.storage import open_sqlite_call_records

    path = tmp_path / "ivr.db"
    async with open_sqlite_call_records(path), open_outbox_channels(path, CHANNELS) as channels:
        await channels.send("sms", "12345", "hi", None)
