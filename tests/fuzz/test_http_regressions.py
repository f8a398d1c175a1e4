"""Regressions the HTTP fuzzing found, each checked where it would hurt.

A request with `Connection: close` and a few stray bytes after it made hypercorn's trio
worker stop listening (hypercorn issue #203: two sends collide on the closing connection),
and with it the whole `ivr serve` process, dropping every call. `http_guard` keeps such an
exception inside its own connection.
"""

from __future__ import annotations

import json
import socket
import sys
from contextlib import suppress
from pathlib import Path

import pytest
from fuzz_http import shared

KILLER = b"OPTIONS /ctio|/.. HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n  "
GUARDED = "an HTTP connection failed and was closed"
HEALTH = b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"


def test_stray_bytes_after_a_closing_request_do_not_stop_the_http_server() -> None:
    server = shared()
    for _ in range(30):
        server.wire(KILLER)
    assert server.wire(HEALTH).startswith(b"HTTP/1.1 200")


def _send(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


@pytest.mark.sip
@pytest.mark.slow
def test_ivr_serve_keeps_serving_calls_and_http_after_those_requests(tmp_path: Path) -> None:
    pytest.importorskip("pjsua2", reason="pjsua2 is not installed: bash scripts/build-pjsua2.sh .venv")
    sys.path.insert(0, str(Path(__file__).parents[1] / "adapters" / "sip"))
    sys.path.insert(0, str(Path(__file__).parents[1] / "hosting"))
    from hosting_support import Server, environment_ready

    if problem := environment_ready():
        pytest.skip(problem)
    flows = Path(__file__).parents[1] / "hosting" / "flows"
    server = Server.start(tmp_path / "data", flows=flows, tts=tmp_path / "tts")
    try:
        guarded = 0
        for _ in range(300):  # about one in four requests collides; stop after the fifth
            with suppress(ConnectionResetError):  # hypercorn may reset what it refused: fine
                _send(server.http_port, KILLER)
            # the whole log: hypercorn's tracebacks for the ASGI side of a collision are long
            # and push the guard's warning out of `output()`'s last 5,000 characters
            guarded = server.log.read_text(errors="replace").count(GUARDED)
            if guarded >= 5:
                break
        assert guarded >= 5, server.output()
        assert server.process.poll() is None, server.output()
        assert _send(server.http_port, HEALTH).startswith(b"HTTP/1.1 200")
    finally:
        assert server.stop() == 0, server.output()


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", ["/nope", "/health/", "/tenants/alpha/desktop//", "/tenants/alpha/cti/nope", "/calls"]
)
def test_a_query_string_that_is_not_utf8_gets_a_json_400_not_a_500(path: str) -> None:
    """Starlette decodes the raw query string as UTF-8 wherever it builds a URL (the 404
    handlers named the path that way; a trailing slash is redirected that way) and raised."""
    from fuzz_inputs import HttpRequest

    reply = shared().asgi(HttpRequest("GET", path, b"n=\x80\xff", ((b"host", b"x"),), b""))
    assert reply.status == 400
    assert "not UTF-8" in json.loads(reply.body)["error"]
    percent_encoded = shared().asgi(HttpRequest("GET", "/health", b"n=%80%ff", ((b"host", b"x"),), b""))
    assert percent_encoded.status == 200


def _laughs(levels: int) -> str:
    """A "billion laughs" flow: level i is nine aliases of level i - 1."""
    lines = ["flow: main", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@pytest.mark.parametrize("route", ["/tenants/alpha/check", "/tenants/alpha/versions"])
def test_an_alias_bomb_uploaded_to_the_publish_api_is_refused_at_its_alias(route: str) -> None:
    """Issue #15's first finding, where it would hurt most: one upload to a hosted server.
    Checking and publishing refuse it with FL013 at the alias that passes the limit, and
    nothing is kept."""
    from fuzz_http import TOKENS
    from fuzz_inputs import HttpRequest

    server = shared()
    headers = ((b"host", b"x"), (b"authorization", f"Bearer {TOKENS['alpha']}".encode()))
    body = json.dumps({"files": {"main.yaml": _laughs(10)}, "author": "attacker"}).encode()
    reply = server.asgi(HttpRequest("POST", route, b"", headers, body), timeout=60)
    assert reply.status == 422, reply.body[:300]
    answer = json.loads(reply.body)
    assert answer["ok"] is False and answer["version"] is None
    bomb = [d for d in answer["diagnostics"] if d["code"] == "FL013"]
    assert [(d["line"], d["column"]) for d in bomb] == [(7, 10)], answer["diagnostics"]
    listed = server.asgi(HttpRequest("GET", "/tenants/alpha/versions", b"", headers, b""))
    assert all(v["author"] != "attacker" for v in json.loads(listed.body)["versions"])
