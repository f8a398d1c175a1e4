"""Real gateways for the messaging tests, on 127.0.0.1 with free ports: an SMTP server
(aiosmtpd, in its own thread and asyncio loop), an HTTP SMS gateway (the standard library's
threading HTTP server) and a TCP server that accepts and never speaks. Each records what
arrived and answers as scripted; tests read what arrived, never mocks.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import socket
import ssl
import subprocess
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pypdf
import trio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from ivr.adapters.messaging import Messaging, open_messaging
from ivr.flowlang.compile import compile_service
from ivr.flowlang.ir import Service
from ivr.flowlang.yamlsource import load_yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def service(channels_yaml: str) -> Service:
    """A service with the given `channels:` block (YAML, indented or not)."""
    text = "service: test\nchannels:\n" + textwrap.indent(textwrap.dedent(channels_yaml).strip("\n"), "  ")
    loaded = load_yaml(text + "\n", "service.yaml")
    compiled, problems = compile_service(loaded.data, loaded.source_map, "service.yaml")
    assert compiled is not None and not [p for p in problems if p.is_error], problems
    return compiled


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


async def eventually(check: Any, timeout: float = 20.0) -> Any:
    """Poll `check()` until it returns something truthy (generous: only matters on failure)."""
    with trio.fail_after(timeout):
        while True:
            found = check()
            if found:
                return found
            await trio.sleep(0.05)


# -- SMTP ----------------------------------------------------------------------------------
@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    authenticated_as: str | None = None
    tls: bool = False

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def attachments(self) -> list[tuple[str, bytes]]:
        found = []
        for part in self.message.iter_attachments():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found.append((part.get_filename() or "", payload))
        return found

    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())


@dataclass
class SmtpBehaviour:
    """How the server answers: `refuse` maps a recipient to a reply ("550 no such user");
    the first `temporary` DATA commands get 451; `data_delay` seconds pass before each
    answer to DATA; `users` turns on AUTH (over TLS only) with these name -> password."""

    refuse: dict[str, str] = field(default_factory=dict)
    temporary: int = 0
    data_delay: float = 0.0
    users: dict[str, str] = field(default_factory=dict)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        reply = self.sink.behaviour.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        self.sink.data_commands += 1
        if self.sink.behaviour.data_delay:
            await asyncio.sleep(self.sink.behaviour.data_delay)
        if self.sink.data_commands <= self.sink.behaviour.temporary:
            return "451 4.3.0 try again later"
        login = session.auth_data.login.decode() if session.authenticated and session.auth_data else None
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content), login,
                            session.ssl is not None)  # fmt: skip
        self.sink.received.append(received)
        return f"250 2.0.0 Ok: queued as Q{len(self.sink.received)}"


class _Authenticator:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self.users.get(data.login.decode()) == data.password.decode()
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


class SmtpSink:
    """An SMTP server in a thread: `received` fills as messages arrive."""

    def __init__(self, behaviour: SmtpBehaviour | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.behaviour = behaviour or SmtpBehaviour()
        self.received: list[Received] = []
        self.data_commands = 0
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if tls is not None:
            kwargs["tls_context"] = tls
        if self.behaviour.users:
            kwargs["authenticator"] = _Authenticator(self.behaviour.users)
            kwargs["auth_require_tls"] = tls is not None
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()


@contextmanager
def smtp_sink(
    behaviour: SmtpBehaviour | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[SmtpSink]:
    with SmtpSink(behaviour, tls) as sink:
        yield sink


def self_signed(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 and the certificate file a client can trust."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert


# -- HTTP SMS gateway -----------------------------------------------------------------------
@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: str = '{"ok": true}'
    delay: float = 0.0


class HttpGateway:
    """An HTTP server in a thread: each request gets the next `answers` entry (the last
    repeats) and is recorded in `requests` once it has been read."""

    def __init__(self, answers: Sequence[Answer] = (Answer(),)) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Request(self.command, parts.path, parse_qs(parts.query), headers, body)
                gateway.requests.append(request)
                answer = gateway.answers[min(len(gateway.requests), len(gateway.answers)) - 1]
                time.sleep(answer.delay)
                data = answer.body.encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/sms/send"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HttpGateway:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class SilentServer:
    """Accepts TCP connections and never says a word (an SMTP server that hangs)."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.port: int = self._socket.getsockname()[1]

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *_: object) -> None:
        self._socket.close()


# -- the messaging side, running ----------------------------------------------------------
STATEMENT = {
    "title": "对账单 Statement 2026-11",
    "subtitle": "账户 Account 31000002  李娜 Li Na",
    "sections": [
        {
            "heading": "交易明细 Transactions",
            "table": {
                "columns": ["日期 Date", "摘要 Kind", "名称 Name", "数量 Qty", "金额 Amount"],
                "rows": [["2026-11-02", "买入 bought", "贵州茅台", 100, "-149950.00"]],
            },
        }
    ],
    "filename": "statement-80000001.pdf",
}


@asynccontextmanager
async def running(
    path: Path,
    svc: Service,
    env: dict[str, str] | None = None,
    transports: dict[str, Any] | None = None,
) -> AsyncIterator[Messaging]:
    """`open_messaging` with its workers running for the block."""
    async with (
        open_messaging(path, svc, env or {}, transports=transports) as messaging,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(messaging.run)
        yield messaging
        nursery.cancel_scope.cancel()
