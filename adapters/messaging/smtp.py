"""`MailTransport`: e-mail and fax-by-e-mail over SMTP, documents as PDF attachments.

Place: a `Transport` for channels of kind `email` and `fax`. One attempt renders the
document (in a worker thread; a document that cannot be rendered fails for good), then runs
one SMTP conversation with `smtplib` in a worker thread: connect (`tls`: TLS from the start;
`starttls`: upgrade, refusing to go on in clear if the server does not offer it), log in
when a username is set, MAIL FROM, RCPT TO, then `handoff()` and DATA.

E-mail goes to the recipient. Fax goes to the fax gateway: `fax_address` with `{number}`
replaced by the fax number ("{number}@fax.example.com" for gateways that read the number
from the address; a fixed address plus `subject: "{number}"` for those that read the
subject). A fax always carries a PDF (the message text as a page when there is no document).

Every message has `Message-ID: <delivery id@sender's domain>` and `X-IVR-Delivery`, so a
copy sent again after an operator's retry can be recognised (receivers and fax gateways
that deduplicate by Message-ID drop it).
"""

from __future__ import annotations

import email.policy
import smtplib
import socket
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

import trio

from ivr.adapters.messaging.documents import Document, DocumentError, parse_document
from ivr.adapters.messaging.pdf import render_pdf
from ivr.adapters.messaging.settings import ChannelSettings, SmtpSettings
from ivr.adapters.messaging.store import StoredMessage
from ivr.adapters.messaging.transport import Attempt, AttemptOutcome, Handoff

SUBJECT_LENGTH = 78


class MailTransport:
    """SMTP for one `email` or `fax` channel (its settings must have `smtp`)."""

    def __init__(self, settings: ChannelSettings, font: Path) -> None:
        assert settings.smtp is not None and settings.sender is not None
        self._settings = settings
        self._smtp: SmtpSettings = settings.smtp
        self._font = font

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()

    async def deliver(self, message: StoredMessage, handoff: Handoff) -> Attempt:
        try:
            mail = await trio.to_thread.run_sync(self.compose, message)
        except DocumentError as exc:
            return Attempt.of("failed", f"the document cannot be rendered: {exc}")
        token = trio.lowlevel.current_trio_token()

        def handoff_from_thread() -> None:
            trio.from_thread.run(handoff, trio_token=token)

        recipient = str(mail["To"])
        return await trio.to_thread.run_sync(
            converse, self._smtp, self._settings.timeout, mail, recipient, handoff_from_thread
        )

    def compose(self, message: StoredMessage) -> EmailMessage:
        """The e-mail for `message` (renders the PDF: call it in a worker thread)."""
        settings = self._settings
        fax = settings.kind == "fax"
        document = _document(message, fax)
        mail = EmailMessage()
        mail["From"] = settings.sender or ""
        mail["To"] = (
            (settings.fax_address or "{number}").replace("{number}", message.to) if fax else message.to
        )
        mail["Subject"] = _subject(settings.subject, message, document)
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = f"<{message.delivery_id}@{_domain(settings.sender or '')}>"
        mail["X-IVR-Delivery"] = message.delivery_id
        mail.set_content(message.message or (document.title if document else ""), cte="base64")
        if document is not None:
            pdf = render_pdf(document, self._font)
            mail.add_attachment(pdf, maintype="application", subtype="pdf", filename=document.filename)
        return mail


def converse(
    smtp: SmtpSettings, timeout: float, mail: EmailMessage, recipient: str, handoff: Callable[[], None]
) -> Attempt:
    """One SMTP conversation (blocking): the attempt's outcome, by where it stopped."""
    handed_over = False
    client: smtplib.SMTP | None = None
    try:
        client = _connect(smtp, timeout)
        sender = parseaddr(str(mail["From"]))[1]
        code, reply = client.mail(sender)
        if code != 250:
            return _reply("sender", code, reply)
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            return _reply("recipient", code, reply)
        handoff()
        handed_over = True
        code, reply = client.data(mail.as_bytes(policy=email.policy.SMTP))
        if code != 250:  # a definite answer to the message: not taken
            return _reply("data", code, reply)
        return Attempt.of("sent", f"{code} {_text(reply)}", _text(reply)[:120] or None)
    except smtplib.SMTPDataError as exc:  # a definite answer to DATA itself: not taken
        return _reply("data", exc.smtp_code, exc.smtp_error)
    except smtplib.SMTPAuthenticationError as exc:
        return Attempt.of("retry", f"login refused: {exc.smtp_code} {_text(exc.smtp_error)}")
    except smtplib.SMTPNotSupportedError:
        return Attempt.of(
            "retry", "the server does not offer STARTTLS (security: starttls); not sent in clear"
        )
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        what = _problem(exc)
        if handed_over:
            return Attempt.of("in_doubt", f"lost the server's answer to the message: {what}")
        return Attempt.of("retry", what)
    finally:
        if client is not None:
            _quit(client)


def _connect(smtp: SmtpSettings, timeout: float) -> smtplib.SMTP:
    context = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
    client: smtplib.SMTP
    if smtp.security == "tls":
        client = smtplib.SMTP_SSL(
            smtp.host, smtp.port, local_hostname=smtp.helo, timeout=timeout, context=context
        )
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, local_hostname=smtp.helo, timeout=timeout)
    try:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
    except BaseException:
        _quit(client)
        raise
    return client


def _reply(stage: str, code: int, reply: bytes | str) -> Attempt:
    outcome: AttemptOutcome = "failed" if 500 <= code < 600 else "retry"
    return Attempt.of(outcome, f"the server refused the {stage}: {code} {_text(reply)}")


def _problem(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout) or "timed out" in str(exc):
        return "the server did not answer in time"  # smtplib reports some timeouts as disconnects
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _document(message: StoredMessage, fax: bool) -> Document | None:
    title = (message.message or "").splitlines()[0][:SUBJECT_LENGTH] if message.message else "Fax"
    if message.document is not None:
        return parse_document(message.document, default_title=title)
    if fax:  # a fax is pages: the text becomes one
        return parse_document(message.message or "", default_title=title)
    return None


def _subject(template: str | None, message: StoredMessage, document: Document | None) -> str:
    title = (
        document.title
        if document
        else (message.message or "").strip().splitlines()[0]
        if message.message
        else ""
    )
    if template:
        return template.replace("{number}", message.to).replace("{title}", title)[:200]
    return title[:SUBJECT_LENGTH]


def _domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rsplit("@", 1)[1] if "@" in address else "ivr.invalid"


def _text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else reply).strip()
