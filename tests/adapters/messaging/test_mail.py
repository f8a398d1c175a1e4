"""E-mail and fax-by-e-mail against a real SMTP server (aiosmtpd): what arrives, how the
SMTP answers become sent / retried / dead / in doubt, STARTTLS and login."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from gateways import (
    STATEMENT,
    SilentServer,
    SmtpBehaviour,
    SmtpSink,
    pdf_text,
    running,
    self_signed,
    service,
    smtp_sink,
)

WAIT = Decimal(20)


def mail_service(port: int, *, security: str = "none", extra: str = "", attempts: int = 3) -> str:
    return f"""
    email:
      kind: email
      from: "95500 证券客户服务中心 <statements@broker.example>"
      smtp: {{host: 127.0.0.1, port: {port}, security: {security}{extra}}}
      retry: {{attempts: {attempts}, backoff: 200ms, max_backoff: 1s}}
      timeout: 2s
    """


async def test_an_email_arrives_with_the_statement_as_a_pdf_that_reads_in_chinese(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    async with running(tmp_path / "outbox.db", service(mail_service(smtp.port))) as messaging:
        channels = messaging.channels
        text = "您的2026-11对账单，编号80000001。"
        delivery = await channels.send("email", "li.na@example.com", text, STATEMENT)
        assert await channels.wait_delivery(delivery, WAIT) == "sent"
        stored = await messaging.outbox.get(delivery)
    [mail] = smtp.received
    assert mail.mail_from == "statements@broker.example" and mail.rcpt_tos == ["li.na@example.com"]
    message = mail.message
    assert message["Subject"] == "对账单 Statement 2026-11"
    assert message["Message-ID"] == f"<{delivery}@broker.example>" and message["X-IVR-Delivery"] == delivery
    assert message["From"] == "95500 证券客户服务中心 <statements@broker.example>"
    assert mail.body().strip() == "您的2026-11对账单，编号80000001。"
    [(name, pdf)] = mail.attachments()
    text = pdf_text(pdf)
    assert name == "statement-80000001.pdf" and pdf.startswith(b"%PDF")
    expected = ("对账单 Statement 2026-11", "李娜 Li Na", "交易明细", "2026-11-02", "贵州茅台", "-149950.00")
    assert [e for e in expected if e not in text] == [], text
    assert stored is not None and stored.status == "sent" and stored.attempts == 1
    assert stored.gateway_ref == "2.0.0 Ok: queued as Q1" and stored.sent_at is not None


async def test_starttls_and_login_are_used_as_configured(tmp_path: Path) -> None:
    context, cert = self_signed(tmp_path)
    behaviour = SmtpBehaviour(users={"statements": "s3cret"})
    extra = f", username: statements, password: '${{SMTP_PASSWORD}}', ca_file: {cert}"
    with smtp_sink(behaviour, tls=context) as sink:
        svc = service(mail_service(sink.port, security="starttls", extra=extra))
        async with running(tmp_path / "o.db", svc, {"SMTP_PASSWORD": "s3cret"}) as messaging:
            delivery = await messaging.channels.send("email", "li.na@example.com", "hello", None)
            assert await messaging.channels.wait_delivery(delivery, WAIT) == "sent"
    [mail] = sink.received
    assert mail.tls and mail.authenticated_as == "statements"
    assert mail.message.get_body(("plain",)) is not None and not mail.attachments()


async def test_a_wrong_password_is_retried_then_dead_and_never_shown(tmp_path: Path) -> None:
    context, cert = self_signed(tmp_path)
    extra = f", username: statements, password: '${{SMTP_PASSWORD}}', ca_file: {cert}"
    with smtp_sink(SmtpBehaviour(users={"statements": "s3cret"}), tls=context) as sink:
        svc = service(mail_service(sink.port, security="starttls", extra=extra, attempts=2))
        async with running(tmp_path / "o.db", svc, {"SMTP_PASSWORD": "wrong-one"}) as messaging:
            delivery = await messaging.channels.send("email", "li.na@example.com", "hello", None)
            assert await messaging.channels.wait_delivery(delivery, WAIT) == "failed"
            stored = await messaging.outbox.get(delivery)
    assert not sink.received
    assert stored is not None and stored.last_error is not None
    assert stored.last_error.startswith("gave up after 2 attempts: login refused: 535")
    assert "wrong-one" not in stored.last_error


async def test_starttls_that_the_server_does_not_offer_is_never_sent_in_clear(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    svc = service(mail_service(smtp.port, security="starttls", attempts=2))
    async with running(tmp_path / "o.db", svc) as messaging:
        delivery = await messaging.channels.send("email", "li.na@example.com", "hello", None)
        assert await messaging.channels.wait_delivery(delivery, WAIT) == "failed"
        stored = await messaging.outbox.get(delivery)
    assert not smtp.received and smtp.data_commands == 0
    assert stored is not None and stored.last_error is not None
    assert "does not offer STARTTLS" in stored.last_error


async def test_a_refused_recipient_is_dead_after_one_attempt(tmp_path: Path) -> None:
    with smtp_sink(SmtpBehaviour(refuse={"gone@example.com": "550 5.1.1 no such user"})) as sink:
        async with running(tmp_path / "o.db", service(mail_service(sink.port))) as messaging:
            delivery = await messaging.channels.send("email", "gone@example.com", "hello", None)
            assert await messaging.channels.wait_delivery(delivery, WAIT) == "failed"
            stored = await messaging.outbox.get(delivery)
            attempts = await messaging.outbox.attempts(delivery)
    assert stored is not None and stored.status == "dead" and stored.attempts == 1
    assert stored.last_error == "the server refused the recipient: 550 5.1.1 no such user"
    assert [(a.outcome, a.handoff_at is None) for a in attempts] == [("failed", True)]


async def test_a_temporary_refusal_is_retried_after_a_back_off_then_sent(tmp_path: Path) -> None:
    with smtp_sink(SmtpBehaviour(temporary=2)) as sink:
        async with running(tmp_path / "o.db", service(mail_service(sink.port))) as messaging:
            delivery = await messaging.channels.send("email", "li.na@example.com", "hello", None)
            assert await messaging.channels.wait_delivery(delivery, WAIT) == "sent"
            attempts = await messaging.outbox.attempts(delivery)
    assert [a.outcome for a in attempts] == ["retry", "retry", "sent"]
    assert attempts[0].detail == "the server refused the data: 451 4.3.0 try again later"
    gaps = [
        (b.started_at - a.ended_at).total_seconds() for a, b in itertools.pairwise(attempts) if a.ended_at
    ]
    assert gaps[0] >= 0.19 and gaps[1] >= 0.39  # 200 ms, then doubled
    assert len(sink.received) == 1 and sink.data_commands == 3


async def test_a_server_that_never_answers_is_retried_then_dead(tmp_path: Path) -> None:
    with SilentServer() as silent:
        text = mail_service(silent.port, attempts=2).replace("timeout: 2s", "timeout: 500ms")
        async with running(tmp_path / "o.db", service(text)) as messaging:
            delivery = await messaging.channels.send("email", "li.na@example.com", "hello", None)
            assert await messaging.channels.wait_delivery(delivery, WAIT) == "failed"
            attempts = await messaging.outbox.attempts(delivery)
    assert [(a.outcome, a.detail) for a in attempts] == [
        ("retry", "the server did not answer in time"),
        ("retry", "the server did not answer in time"),
    ]


async def test_an_answer_lost_after_the_data_leaves_the_message_in_doubt_and_unsent_again(
    tmp_path: Path,
) -> None:
    with smtp_sink(SmtpBehaviour(data_delay=2.5)) as sink:
        text = mail_service(sink.port).replace("timeout: 2s", "timeout: 1s")
        async with running(tmp_path / "o.db", service(text)) as messaging:
            delivery = await messaging.channels.send("email", "li.na@example.com", "hello", None)
            assert await messaging.channels.wait_delivery(delivery, WAIT) == "pending"
            stored = await messaging.outbox.get(delivery)
            await trio.sleep(1.0)  # five back-offs: a resend would have come by now
    assert stored is not None and stored.status == "in_doubt" and stored.attempts == 1
    assert stored.last_error == "lost the server's answer to the message: the server did not answer in time"
    assert sink.data_commands == 1  # never handed over twice


@pytest.mark.parametrize("document", [STATEMENT, None], ids=["document", "text only"])
async def test_a_fax_goes_to_the_fax_gateway_as_pdf_pages(
    tmp_path: Path, smtp: SmtpSink, document: object
) -> None:
    text = f"""
    fax:
      kind: fax
      from: fax@broker.example
      smtp: {{host: 127.0.0.1, port: {smtp.port}, security: none}}
      fax_address: "{{number}}@fax.example.com"
      subject: "{{number}}"
    """
    async with running(tmp_path / "o.db", service(text)) as messaging:
        delivery = await messaging.channels.send("fax", "075588889999", "对账单2026-11", document)
        assert await messaging.channels.wait_delivery(delivery, WAIT) == "sent"
    [fax] = smtp.received
    assert fax.rcpt_tos == ["075588889999@fax.example.com"] and fax.message["Subject"] == "075588889999"
    [(_, pdf)] = fax.attachments()
    assert ("贵州茅台" if document else "对账单2026-11") in pdf_text(pdf)
