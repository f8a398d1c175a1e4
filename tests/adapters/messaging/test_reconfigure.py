"""A new version of the flows changes the channels of a running messaging side
(`Messaging.reconfigure`, as publishing does per tenant): a changed gateway gets a new worker
once the old one's attempt has ended, a new channel starts delivering, a dropped channel keeps
delivering what is queued on it, and a broken setting changes nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from gateways import Answer, HttpGateway, SmtpSink, eventually, running, service

from ivr.adapters.errors import ConfigError

WAIT = Decimal(20)


def sms(url: str) -> str:
    return f"""
    sms:
      kind: sms
      timeout: 5s
      retry: {{attempts: 3, backoff: 100ms}}
      http: {{url: "{url}", style: json}}
    """


def email(port: int) -> str:
    return f"""
    email:
      kind: email
      from: "service@broker.example"
      smtp: {{host: 127.0.0.1, port: {port}, security: none}}
    """


async def test_a_changed_gateway_takes_the_next_message_after_the_old_attempt_ended(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    with HttpGateway([Answer(200, delay=1.0)]) as old, HttpGateway() as new:
        async with running(tmp_path / "o.db", service(sms(old.url))) as messaging:
            first = await messaging.channels.send("sms", "13800138000", "one", None)
            await eventually(lambda: old.requests)  # the old gateway is answering slowly
            await messaging.reconfigure(service(sms(new.url) + email(smtp.port)))
            second = await messaging.channels.send("sms", "13800138000", "two", None)
            mail = await messaging.channels.send("email", "li.na@example.com", "three", None)
            results = [await messaging.channels.wait_delivery(d, WAIT) for d in (first, second, mail)]
    assert results == ["sent", "sent", "sent"]
    assert [r.json()["text"] for r in old.requests] == ["one"]
    assert [r.json()["text"] for r in new.requests] == ["two"]
    assert [m.rcpt_tos for m in smtp.received] == [["li.na@example.com"]]


async def test_a_channel_the_new_version_dropped_still_delivers_its_messages(tmp_path: Path) -> None:
    with HttpGateway() as gateway:
        async with running(tmp_path / "o.db", service(sms(gateway.url))) as messaging:
            await messaging.reconfigure(None)
            delivery = await messaging.channels.send("sms", "13800138000", "still here", None)
            assert await messaging.channels.wait_delivery(delivery, WAIT) == "sent"
    assert [r.json()["text"] for r in gateway.requests] == ["still here"]


async def test_a_broken_setting_in_the_new_version_changes_nothing(tmp_path: Path) -> None:
    with HttpGateway() as gateway:
        async with running(tmp_path / "o.db", service(sms(gateway.url))) as messaging:
            broken = sms("${UNSET_SMS_URL}")
            with pytest.raises(ConfigError, match="UNSET_SMS_URL"):
                await messaging.reconfigure(service(broken))
            delivery = await messaging.channels.send("sms", "13800138000", "as before", None)
            assert await messaging.channels.wait_delivery(delivery, WAIT) == "sent"
    assert len(gateway.requests) == 1
