"""The hosting HTTP side, in process, for fuzzing: the Starlette app `ivr serve --hosting`
serves (`HttpApi` with publishing, tokens and each tenant's desktop and CTI socket), over two
tenants started from a hosting file as the server starts them (`open_tenants`), real SQLite
call records and agents on `DeskConnector` lines; run by trio on a background thread and
also served by hypercorn on 127.0.0.1 with `http_guard`, as `ivr serve` does.

The fuzz targets talk to it two ways that both survive a change of HTTP framework: as an
ASGI application (scope, receive, send) and over real HTTP and WebSocket on a socket. When
the hosting app's composition changes, `_app` below is the one place to follow it.
Each tenant has one ended call (`CALLS`), so a tenant's token that ever sees the other
tenant's call breaks the contract.
"""

from __future__ import annotations

import atexit
import json
import math
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from fuzz_inputs import HttpRequest

from ivr.adapters.cti.accounts import hash_password
from ivr.adapters.cti.testing import DeskConnector
from ivr.adapters.hosting.auth import Tokens, token_digest
from ivr.adapters.hosting.http import HttpApi
from ivr.adapters.hosting.http_guard import guard_connections
from ivr.adapters.hosting.live import LiveCalls
from ivr.adapters.hosting.plan import plan_hosting
from ivr.adapters.hosting.server import ServerStatus, open_tenants
from ivr.adapters.hosting.testing import memory_call, shared_parts
from ivr.adapters.storage import open_sqlite_call_records
from ivr.runtime.testing import MemoryCallLeg

Asgi = Callable[[Mapping[str, Any], Any, Any], Awaitable[None]]

# The API tokens (the hosting file holds their SHA-256) and each tenant's number and call.
TOKENS = {"operator": "fuzz-operator-token", "alpha": "fuzz-alpha-token", "beta": "fuzz-beta-token"}
NUMBERS = {"alpha": "100", "beta": "200"}
CALLS = {"alpha": "call-alpha", "beta": "call-beta"}
AGENT = ("8001", "pw-8001")  # alpha's agent (beta's is 9001)

QUEUE_FLOW = """\
flow: main
languages: [en]
start: wait
nodes:
  wait: {type: enqueue, queue: desk, next: bye, on_overflow: busy, on_timeout: busy, on_no_agents: busy}
  busy: {type: hangup, prompt: {en: "Nobody here."}}
  bye: {type: hangup, prompt: {en: Goodbye.}}
"""


@dataclass
class Reply:
    """What the app sent back for one request."""

    starts: int  # http.response.start messages (must be exactly 1)
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class InProcessServer:
    """Start once per process (`shared()`); requests come from any thread but the loop's."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._stop: trio.Event | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self.app: Asgi | None = None
        self.issue_token: Callable[[str], Awaitable[str]] | None = None
        self.port = 0
        self._folder = tempfile.TemporaryDirectory(prefix="ivr-fuzz-http-")
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fuzz-http", daemon=True)
        self._thread.start()
        if not self._ready.wait(60) or self._failure is not None:
            raise RuntimeError(f"the in-process server did not start: {self._failure!r}")

    # -- the loop thread ----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as error:  # reported to the starting thread
            self._failure = error
            self._ready.set()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery, AsyncExitStack() as stack:
            self.app = await self._app(stack, nursery)
            self.port = await nursery.start(self._serve)
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    async def _app(self, stack: AsyncExitStack, nursery: trio.Nursery) -> Asgi:
        root = Path(self._folder.name)
        write_hosting(root)
        plan = plan_hosting(root / "hosting.yaml")
        store = await stack.enter_async_context(open_sqlite_call_records(root / "var" / "calls.sqlite3"))
        live = LiveCalls()
        shared = shared_parts(
            store, root / "var", hosting_file=root / "hosting.yaml", live=live,
            agent_line=lambda layout: DeskConnector(answer_after=0.05),
        )  # fmt: skip
        hosted = await stack.enter_async_context(open_tenants(plan, shared, 50))
        await hosted.wait_started()
        for tenant, number in NUMBERS.items():  # one ended call each (nobody answers the queue)
            leg = MemoryCallLeg(call_id=CALLS[tenant], dialed=number, seconds_per_char=0.0)
            with trio.fail_after(30):
                await memory_call(hosted.admission, number, leg)
        cti = hosted.tenant("alpha").agents.cti
        assert cti is not None and hosted.publisher is not None
        self.issue_token = cti.server.tokens.issue
        status = ServerStatus(hosted.admission, 1024, time.monotonic())
        api = HttpApi(
            status, live, shared.metrics, store, hosted.tenants,
            Tokens.from_hosting(plan.hosting), hosted.publisher, plan.hosting,
        )  # fmt: skip
        app: Asgi = api.app()
        return app

    async def _serve(self, task_status: trio.TaskStatus[int]) -> None:
        from hypercorn.config import Config
        from hypercorn.trio import serve

        guard_connections()  # as ivr serve does
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 0.5
        assert self.app is not None

        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(
                lambda task_status: serve(self.app, config, task_status=task_status)  # type: ignore[arg-type]
            )
            task_status.started(int(binds[0].rsplit(":", 1)[1]))

    # -- the callers' side --------------------------------------------------------------------
    def asgi(self, request: HttpRequest, timeout: float = 10) -> Reply:
        """One request through the ASGI interface (no HTTP parsing in between)."""
        assert self._token is not None
        return trio.from_thread.run(self._asgi, request, timeout, trio_token=self._token)

    async def _asgi(self, request: HttpRequest, timeout: float) -> Reply:
        assert self.app is not None
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": request.path,
            "raw_path": request.path.encode("utf-8", "surrogateescape"),
            "query_string": request.query,
            "root_path": "",
            "headers": list(request.headers),
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", self.port),
        }
        chunks = [request.body[i : i + 1024] for i in range(0, len(request.body), 1024)] or [b""]
        sent: list[Mapping[str, Any]] = []

        async def receive() -> Mapping[str, Any]:
            if chunks:
                body = chunks.pop(0)
                return {"type": "http.request", "body": body, "more_body": bool(chunks)}
            await trio.sleep(math.inf)  # a client that stays connected
            raise AssertionError("unreachable")

        async def send(message: Mapping[str, Any]) -> None:
            sent.append(message)

        with trio.fail_after(timeout):
            await self.app(scope, receive, send)
        starts = [m for m in sent if m["type"] == "http.response.start"]
        body = b"".join(bytes(m.get("body", b"")) for m in sent if m["type"] == "http.response.body")
        status = int(starts[0]["status"]) if starts else 0
        return Reply(len(starts), status, list(starts[0].get("headers", [])) if starts else [], body)

    def wire(self, raw: bytes, timeout: float = 1.5) -> bytes:
        """Raw bytes over a TCP connection; what came back before the server closed it (or
        the client gave up after `timeout` seconds of silence: hypercorn waits out its
        keep-alive time for a request cut short, which is not a fault)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as conn:
            try:
                conn.sendall(raw)
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server may close early on garbage: then read what it said
            received = bytearray()
            while True:
                try:
                    chunk = conn.recv(65536)
                except (ConnectionResetError, TimeoutError):
                    break
                if not chunk:
                    break
                received += chunk
            return bytes(received)

    def websocket(self, messages: list[str | bytes], timeout: float = 10) -> list[dict[str, Any]]:
        """Log in (by token) on alpha's CTI socket, send `messages`, then a ping; every reply
        until the pong."""
        assert self._token is not None
        return trio.from_thread.run(self._websocket, messages, timeout, trio_token=self._token)

    async def _websocket(self, messages: list[str | bytes], timeout: float) -> list[dict[str, Any]]:
        from trio_websocket import open_websocket

        replies: list[dict[str, Any]] = []
        with trio.fail_after(timeout):
            async with open_websocket("127.0.0.1", self.port, "/tenants/alpha/cti/ws", use_ssl=False) as ws:
                assert self.issue_token is not None
                token = await self.issue_token(AGENT[0])
                await ws.send_message(json.dumps({"id": "in", "command": "login", "token": token}))
                for message in messages:
                    await ws.send_message(message)
                await ws.send_message(json.dumps({"id": "alive?", "command": "ping"}))
                while True:
                    reply = json.loads(await ws.get_message())
                    replies.append(reply)
                    if reply.get("reply") == "alive?":
                        return replies

    def close(self) -> None:
        if self._stop is not None and self._token is not None:
            trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(10)
        self._folder.cleanup()


def write_hosting(root: Path) -> None:
    """Two folder tenants behind a hosting file with tokens, each with a queue and agents."""
    tenants = []
    for name, number in NUMBERS.items():
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "service.yaml").write_text(
            f'service: {name}\nlanguages: [en]\nnumbers:\n  "{number}": main\n'
            "queues:\n  desk: {skills: [desk]}\n"
        )
        (folder / "main.yaml").write_text(QUEUE_FLOW)
        extension = "8001" if name == "alpha" else "9001"
        (root / f"{name}-agents.yaml").write_text(
            f'agents:\n  - extension: "{extension}"\n    name: Agent {extension}\n'
            f'    password_hash: "{hash_password("pw-" + extension)}"\n'
            f"    phone: sip:{extension}@127.0.0.1:9\n    skills: {{desk: 3}}\n"
        )
        tenants.append(
            f'  {name}: {{folder: {name}, numbers: ["{number}"], '
            f"token_sha256: {token_digest(TOKENS[name])}, agents: {name}-agents.yaml}}\n"
        )
    operator = f"operator: {{token_sha256: {token_digest(TOKENS['operator'])}}}\n"
    (root / "hosting.yaml").write_text(f"hosting: fuzz\n{operator}tenants:\n{''.join(tenants)}")
    (root / "var").mkdir()


_SHARED: InProcessServer | None = None


def shared() -> InProcessServer:
    """The process's server, started on first use (targets and tests share it)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = InProcessServer()
        # stop its tenants before the interpreter removes their folder (else a last journal
        # write fails loudly at exit)
        atexit.register(_SHARED.close)
    return _SHARED


class InProcessEditor:
    """The flow editor's Starlette app (`ivr edit`, local sign-in) over a copy of flows/,
    driven through ASGI by httpx on a background trio loop, signed in as the browser is."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="ivr-fuzz-editor-")
        shutil.copytree(Path(__file__).resolve().parents[2] / "flows", Path(self._folder.name) / "project")
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._http: Any = None
        self._thread = threading.Thread(target=lambda: trio.run(self._main), name="fuzz-editor", daemon=True)
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the in-process editor did not start")

    async def _main(self) -> None:
        import httpx

        from ivr.editor.app import build_editor_app
        from ivr.editor.auth import local_sign_in
        from ivr.editor.context import EditorContext
        from ivr.editor.publishing import FolderPublisher
        from ivr.editor.workspace import Workspace

        root = Path(self._folder.name)
        project = root / "project"
        context = EditorContext(
            {"": Workspace(project)},
            publisher=FolderPublisher(root / "published"),
            local=local_sign_in("fuzz", "author"),  # type: ignore[arg-type]
        )
        app = build_editor_app(context, check_bundle=False)
        self._token, self._stop = trio.lowlevel.current_trio_token(), trio.Event()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            assert context.local is not None
            signed = await http.get(f"/?token={context.local.token}")
            assert signed.status_code == 303, signed.text
            self._http = http
            self._ready.set()
            await self._stop.wait()

    def request(self, method: str, path: str, body: bytes, timeout: float = 20) -> tuple[int, bytes, str]:
        """(status, body, content type) of one request, with the CSRF header the page sends."""
        assert self._token is not None
        return trio.from_thread.run(self._request, method, path, body, timeout, trio_token=self._token)

    async def _request(self, method: str, path: str, body: bytes, timeout: float) -> tuple[int, bytes, str]:
        with trio.fail_after(timeout):
            response = await self._http.request(
                method, path, content=body, headers={"X-IVR-Editor": "1", "content-type": "application/json"}
            )
        return response.status_code, response.content, response.headers.get("content-type", "")


_EDITOR: InProcessEditor | None = None


def shared_editor() -> InProcessEditor:
    global _EDITOR
    if _EDITOR is None:
        _EDITOR = InProcessEditor()
    return _EDITOR
