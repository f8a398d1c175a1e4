"""SMS through a real HTTP gateway (a local HTTP server): the three request shapes, the
answers that mean sent / retry / dead / in doubt, a gateway that fails, times out and
recovers, and secrets that never reach the records or the log."""

from __future__ import annotations

import base64
import logging
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from gateways import Answer, HttpGateway, free_port, running, service

from ivr.adapters.messaging import AttemptRecord, StoredMessage

WAIT = Decimal(20)
ENV = {"SMS_TOKEN": "tok-123", "SMS_PASSWORD": "pw-456", "SMS_KEY": "key-789"}


def sms(url: str, http: str, *, attempts: int = 3, extra: str = "") -> str:
    return f"""
    sms:
      kind: sms
      from: "95500"
      timeout: 1s
      retry: {{attempts: {attempts}, backoff: 100ms, max_backoff: 400ms}}{extra}
      http: {{url: "{url}", {http}}}
    """


async def send_one(
    tmp_path: Path, text: str, env: dict[str, str] | None = None
) -> tuple[str, str, tuple[StoredMessage, list[AttemptRecord]]]:
    async with running(tmp_path / "o.db", service(text), env or ENV) as messaging:
        delivery = await messaging.channels.send("sms", "13800138000", "【95500】您的对账单已生成", None)
        result = await messaging.channels.wait_delivery(delivery, WAIT)
        stored = await messaging.outbox.get(delivery)
        attempts = await messaging.outbox.attempts(delivery)
    assert stored is not None
    return delivery, result, (stored, attempts)


async def test_json_style_posts_an_object_with_a_bearer_token(tmp_path: Path) -> None:
    with HttpGateway([Answer(200, '{"code": 0, "data": {"id": "G-77"}}')]) as gateway:
        http = "style: json, token: '${SMS_TOKEN}', success: {json_field: code, equals: 0}, id_field: data.id"
        delivery, result, (stored, _) = await send_one(tmp_path, sms(gateway.url, http))
    [request] = gateway.requests
    assert result == "sent" and request.method == "POST" and request.path == "/sms/send"
    assert request.headers["authorization"] == "Bearer tok-123"
    assert request.json() == {
        "to": "13800138000",
        "text": "【95500】您的对账单已生成",
        "from": "95500",
        "reference": delivery,
    }
    assert stored.gateway_ref == "G-77"


async def test_form_style_posts_fields_with_basic_auth_like_twilio(tmp_path: Path) -> None:
    with HttpGateway([Answer(201, '{"sid": "SM123"}')]) as gateway:
        http = "style: form, username: AC42, password: '${SMS_PASSWORD}', id_field: sid"
        delivery, result, (stored, _) = await send_one(tmp_path, sms(gateway.url, http))
    [request] = gateway.requests
    assert result == "sent" and request.method == "POST"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"AC42:pw-456").decode()
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form() == {
        "To": ["13800138000"],
        "Body": ["【95500】您的对账单已生成"],
        "From": ["95500"],
        "Reference": [delivery],
    }
    assert stored.gateway_ref == "SM123"


async def test_query_style_gets_with_renamed_fields_and_a_key_like_chinese_gateways(tmp_path: Path) -> None:
    with HttpGateway([Answer(200, "0")]) as gateway:
        http = (
            "style: query, params: {u: broker, key: '${SMS_KEY}'}, success: {body: '0'}, "
            "fields: {to: m, text: c, sender: null, reference: uid}"
        )
        delivery, result, _ = await send_one(tmp_path, sms(gateway.url, http))
    [request] = gateway.requests
    assert result == "sent" and request.method == "GET" and request.body == b""
    assert request.query == {
        "m": ["13800138000"],
        "c": ["【95500】您的对账单已生成"],
        "uid": [delivery],
        "u": ["broker"],
        "key": ["key-789"],
    }


async def test_a_success_rule_that_does_not_hold_is_dead_at_once(tmp_path: Path) -> None:
    with HttpGateway([Answer(200, "41")]) as gateway:
        _, result, (stored, _) = await send_one(
            tmp_path, sms(gateway.url, "style: query, success: {body: '0'}")
        )
    assert result == "failed" and len(gateway.requests) == 1
    assert stored.last_error == "the gateway answered HTTP 200: 41 (success is '0')"


@pytest.mark.parametrize(
    ("answers", "result", "outcomes"),
    [
        ([Answer(500, "busy"), Answer(503, "down"), Answer(200)], "sent", ["retry", "retry", "sent"]),
        ([Answer(429, "slow down"), Answer(200)], "sent", ["retry", "sent"]),
        ([Answer(400, '{"error": "bad number"}')], "failed", ["failed"]),
        ([Answer(502, "bad gateway")], "failed", ["retry", "retry", "retry"]),
    ],
    ids=["fails-then-recovers", "throttled", "refused", "down-for-good"],
)
async def test_gateway_answers_decide_retry_or_dead_letter(
    tmp_path: Path, answers: list[Answer], result: str, outcomes: list[str]
) -> None:
    with HttpGateway(answers) as gateway:
        delivery, found, (stored, attempts) = await send_one(tmp_path, sms(gateway.url, "style: json"))
    assert found == result and [a.outcome for a in attempts] == outcomes
    assert {r.json()["reference"] for r in gateway.requests} == {delivery}
    if result == "failed":
        assert stored.status == "dead" and stored.attempts == len(outcomes)


async def test_a_gateway_that_times_out_then_recovers_gets_the_same_reference_when_it_deduplicates(
    tmp_path: Path,
) -> None:
    with HttpGateway([Answer(200, delay=3.0), Answer(200)]) as gateway:
        text = sms(gateway.url, "style: json", extra="\n      dedupe: true")
        delivery, result, (_, attempts) = await send_one(tmp_path, text)
    assert result == "sent" and [a.outcome for a in attempts] == ["in_doubt", "sent"]
    assert [r.json()["reference"] for r in gateway.requests] == [delivery, delivery]


async def test_a_gateway_that_times_out_without_deduplication_leaves_the_message_in_doubt(
    tmp_path: Path,
) -> None:
    with HttpGateway([Answer(200, delay=3.0), Answer(200)]) as gateway:
        async with running(tmp_path / "o.db", service(sms(gateway.url, "style: json")), ENV) as messaging:
            delivery = await messaging.channels.send("sms", "13800138000", "hi", None)
            assert await messaging.channels.wait_delivery(delivery, WAIT) == "pending"
            await trio.sleep(0.6)  # a resend would come after a 100 ms back-off
            stored = await messaging.outbox.get(delivery)
    assert stored is not None and stored.status == "in_doubt" and len(gateway.requests) == 1
    assert stored.last_error is not None and "no answer to the request (ReadTimeout)" in stored.last_error


async def test_a_gateway_that_is_not_there_is_retried_then_dead(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/sms"
    _, result, (stored, attempts) = await send_one(tmp_path, sms(url, "style: json", attempts=2))
    assert result == "failed" and [a.outcome for a in attempts] == ["retry", "retry"]
    assert stored.last_error is not None and stored.last_error.startswith("gave up after 2 attempts: ")
    assert "no connection (ConnectError)" in stored.last_error


async def test_secrets_never_reach_the_records_or_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with HttpGateway([Answer(500, "no"), Answer(400, "no")]) as gateway:
        http = "style: query, username: u, password: '${SMS_PASSWORD}', token: '${SMS_TOKEN}', "
        http += "params: {key: '${SMS_KEY}'}"
        async with running(tmp_path / "o.db", service(sms(gateway.url, http)), ENV) as messaging:
            delivery = await messaging.channels.send("sms", "13800138000", "hi", None)
            await messaging.channels.wait_delivery(delivery, WAIT)
            stored = await messaging.outbox.get(delivery)
            attempts = await messaging.outbox.attempts(delivery)
            described = "\n".join(messaging.describe()) + repr(messaging.settings)
    assert gateway.requests[0].query["key"] == ["key-789"]  # the gateway did get it
    seen = caplog.text + repr(stored) + repr(attempts) + described
    assert [s for s in ENV.values() if s in seen] == []
