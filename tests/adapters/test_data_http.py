"""The http backend against a real HTTP server on 127.0.0.1 (stdlib, in a thread)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from adapters_support import op, service

from ivr.adapters.data import ServiceOperations
from ivr.runtime.ports import OperationError, OperationTimeout


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: object


@dataclass
class Server:
    url: str
    seen: list[Seen] = field(default_factory=list)
    failures_before_success: int = 0

    def hits(self, prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(prefix)]


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve(None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            self._serve(json.loads(self.rfile.read(length)) if length else None)

        def _serve(self, body: object) -> None:
            server.seen.append(Seen(self.command, self.path, dict(self.headers), body))
            if self.path.startswith("/slow"):
                time.sleep(0.5)
            if self.path.startswith("/fail"):
                return self._reply(500, {"error": "boom"})
            if self.path.startswith("/missing"):
                return self._reply(404, {"error": "no such code"})
            if self.path.startswith("/orders") and server.failures_before_success > 0:
                server.failures_before_success -= 1
                return self._reply(503, {})
            self._reply(200, {"path": self.path, "body": body, "last": 12.35})

        def _reply(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server("")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def ops(tmp_path: Path, *decls: object) -> ServiceOperations:
    return ServiceOperations.from_service(service(*decls), base_dir=tmp_path)  # type: ignore[arg-type]


async def test_get_fills_the_url_template_encoded_and_parses_decimals(server: Server, tmp_path: Path) -> None:
    decl = op("rates", "http", url=server.url + "/rates/{code}", params=("code", "day"))
    async with ops(tmp_path, decl) as o:
        result = await o.invoke("rates", {"code": "a b/c", "day": "2026-01-02"})
    assert result == {"path": "/rates/a%20b%2Fc?day=2026-01-02", "body": None, "last": Decimal("12.35")}


async def test_server_error_is_retried_then_reported(server: Server, tmp_path: Path) -> None:
    decl = op("rates", "http", url=server.url + "/fail/{code}", params=("code",), retries=2)
    async with ops(tmp_path, decl) as o:
        with pytest.raises(
            OperationError, match=r"operation 'rates' failed: HTTP 500 from GET .*/fail/\{code\}"
        ):
            await o.invoke("rates", {"code": "600000"})
    assert len(server.hits("/fail")) == 3


async def test_client_error_is_not_retried(server: Server, tmp_path: Path) -> None:
    decl = op("rates", "http", url=server.url + "/missing/{code}", params=("code",), retries=2)
    async with ops(tmp_path, decl) as o:
        with pytest.raises(OperationError, match="HTTP 404"):
            await o.invoke("rates", {"code": "x"})
    assert len(server.hits("/missing")) == 1


async def test_slow_server_times_out_on_every_attempt(server: Server, tmp_path: Path) -> None:
    decl = op("rates", "http", url=server.url + "/slow", timeout="0.1", retries=1)
    async with ops(tmp_path, decl) as o:
        with pytest.raises(OperationTimeout, match=r"operation 'rates' timed out after 0.1s \(2 attempts\)"):
            await o.invoke("rates", {})
    assert len(server.hits("/slow")) == 2


async def test_post_sends_json_with_exact_money_and_one_idempotency_key(
    server: Server, tmp_path: Path
) -> None:
    server.failures_before_success = 2
    decl = op(
        "order",
        "http",
        method="POST",
        url=server.url + "/orders",
        params=("key", "amount"),
        retries=2,
        idempotency_key="key",
    )
    async with ops(tmp_path, decl) as o:
        result = await o.invoke("order", {"amount": Decimal("100.10")})
    assert isinstance(result, dict) and result["path"] == "/orders"
    hits = server.hits("/orders")
    assert len(hits) == 3
    (key,) = {h.headers["Idempotency-Key"] for h in hits}
    assert all(h.body == {"amount": "100.10", "key": key} for h in hits)


async def test_connection_refused_is_retried(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    decl = op("rates", "http", url=f"http://127.0.0.1:{port}/x", retries=1)
    async with ops(tmp_path, decl) as o:
        with pytest.raises(OperationError, match="ConnectError"):
            await o.invoke("rates", {})
        assert o.statistics()["rates"].attempts == 2
