"""The simulate panel's WebSocket: one simulated call per connection.

Place: between the browser's keypad and `ivr.editor.simulation`. Protocol (JSON text
messages; docs/editor.md):

    browser -> editor   {"type": "start", "file", "text", "flow"?, "caller"?, "dialed"?,
                         "language"?, "at"?, "fixtures": {"test": {"file", "name"}} | {"text"}
                         | {"service": true} | null}
                        {"type": "keys", "keys": "1"}      {"type": "hangup"}
    editor -> browser   {"type": "refused", "message", "diagnostics"}   (the call never starts)
                        {"type": "started"} {"type": "prompt", "text", "language", "audio"}
                        {"type": "waiting", "timeout"} {"type": "event", "kind", "node", "detail"}
                        {"type": "transfer"} {"type": "ended", "how", "path", "variables"}

The call runs the author's buffer (checked first: a flow with errors is refused with its
diagnostics). Closing the socket hangs the call up. Messages to the browser go through one
queue, so they arrive in the order the call made them.
"""

from __future__ import annotations

import json
import math
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

import trio
from starlette.websockets import WebSocket, WebSocketDisconnect

from ivr.editor.analysis import Analysis
from ivr.editor.auth import COOKIE, EditorUser
from ivr.editor.context import EditorContext
from ivr.editor.errors import EditorError
from ivr.editor.simulation import BrowserLeg, CallSettings, run_call
from ivr.runtime.flowtest.loader import load_fixtures_text, load_test_file
from ivr.runtime.flowtest.model import Fixtures
from ivr.runtime.ports import DataOperations
from ivr.runtime.testing import MemoryCallLeg

MAX_MESSAGE = 6_000_000


async def simulate(websocket: WebSocket) -> None:
    context: EditorContext = websocket.app.state.editor
    if not _same_origin(websocket):
        await websocket.close(code=4403)
        return
    user = context.sessions.user(websocket.cookies.get(COOKIE))
    if user is None:
        await websocket.close(code=4401)
        return
    await websocket.accept()
    outbox_in, outbox = trio.open_memory_channel[dict[str, object] | None](math.inf)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_pump, websocket, outbox)
            await _session(websocket, context, user, outbox_in.send_nowait)
            outbox_in.send_nowait(None)
    except WebSocketDisconnect:
        pass
    finally:
        if websocket.client_state.name == "CONNECTED":
            await websocket.close()


async def _pump(websocket: WebSocket, outbox: trio.MemoryReceiveChannel[dict[str, object] | None]) -> None:
    async for message in outbox:
        if message is None:
            return
        await websocket.send_text(json.dumps(message, ensure_ascii=False))


async def _session(websocket: WebSocket, context: EditorContext, user: EditorUser, emit: Any) -> None:
    start = await _receive(websocket)
    if start is None:
        return
    try:
        if start.get("type") != "start":
            raise EditorError("the first message must be `start`")
        analysis, settings, use_service = await _prepare(context, user, start)
    except EditorError as exc:
        emit({"type": "refused", **exc.to_json()})
        return
    leg = BrowserLeg(
        MemoryCallLeg("sim", settings.caller, settings.dialed, seconds_per_char=0.04, record_silence=5.0),
        emit,
        context.speech,
        context.audio,
    )
    async with AsyncExitStack() as stack, trio.open_nursery() as nursery:
        data = None
        if use_service:
            data = await _service_operations(stack, context, analysis, emit)
            if data is None:
                return

        async def call() -> None:
            await run_call(analysis.project, settings, leg, emit, data=data)
            nursery.cancel_scope.cancel()

        nursery.start_soon(call)
        while True:
            message = await _receive(websocket)
            if message is None or message.get("type") == "hangup":
                leg.hang_up()
                if message is None:
                    return
            elif message.get("type") == "keys":
                taken = leg.press(str(message.get("keys", "")))
                emit({"type": "pressed", "keys": taken})


async def _receive(websocket: WebSocket) -> dict[str, Any] | None:
    """The next message as a dict; None when the browser has gone."""
    try:
        text = await websocket.receive_text()
    except (WebSocketDisconnect, RuntimeError, KeyError):
        return None
    if len(text) > MAX_MESSAGE:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def _service_operations(
    stack: AsyncExitStack, context: EditorContext, analysis: Analysis, emit: Any
) -> DataOperations | None:
    assert context.operations is not None
    try:
        return await stack.enter_async_context(context.operations(analysis.project))
    except Exception as exc:  # the service's own configuration problem, told as such
        emit(
            {
                "type": "refused",
                "error": "service",
                "message": f"the service's operations cannot be used: {exc}",
            }
        )
        return None


async def _prepare(
    context: EditorContext, user: EditorUser, start: dict[str, Any]
) -> tuple[Analysis, CallSettings, bool]:
    file, text = start.get("file"), start.get("text")
    if not isinstance(file, str) or not isinstance(text, str):
        raise EditorError("`start` needs the file and its text")
    analyser = context.analyser(user)
    analysis = await trio.to_thread.run_sync(lambda: analyser.analyse(file, text), limiter=context.limiter)
    errors = [d for d in analysis.diagnostics if d.is_error]
    if errors:
        raise EditorError(
            f"the flows have {len(errors)} error(s); fix them before simulating",
            code="refused",
            diagnostics=[d.to_json() for d in errors],
        )
    flow = start.get("flow") or (analysis.flow.name if analysis.flow else None)
    if not isinstance(flow, str) or flow not in analysis.project.flows:
        raise EditorError("pick a flow to call (this file is not one)")
    languages = analysis.project.flows[flow].languages
    language = start.get("language") or None
    if language is not None and language not in languages:
        raise EditorError(f"flow '{flow}' has no language '{language}'; it has {', '.join(languages)}")
    fixtures, use_service = await _fixtures(context, user, start.get("fixtures"))
    settings = CallSettings(
        flow=flow,
        caller=str(start.get("caller") or "13800000000")[:32],
        dialed=str(start.get("dialed") or "")[:32],
        language=language,
        at=_moment(start.get("at")),
        fixtures=fixtures,
    )
    return analysis, settings, use_service


def _moment(value: object) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise EditorError(f"'{value}' is not a date-time with a zone", "write e.g. 2026-11-27T10:00:00+08:00")
    return moment


async def _fixtures(context: EditorContext, user: EditorUser, given: object) -> tuple[Fixtures | None, bool]:
    if not isinstance(given, dict):
        return None, False
    if given.get("service"):
        if context.operations is None:
            raise EditorError("this editor has no connection to the service's operations; use fixtures")
        return None, True
    workspace = context.workspace(user)
    if isinstance(given.get("test"), dict):
        file, name = given["test"].get("file"), given["test"].get("name")
        if not isinstance(file, str):
            raise EditorError("name the test file")
        absolute = str(workspace.resolve(file))
        loaded, problems = await trio.to_thread.run_sync(load_test_file, absolute)
        test = next((t for t in loaded.tests if t.name == name), None) if loaded else None
        if test is None:
            raise EditorError(f"no test '{name}' in {file}", diagnostics=[d.to_json() for d in problems])
        return test.fixtures, False
    if isinstance(given.get("text"), str):
        fixtures, problems = load_fixtures_text(given["text"], "fixtures")
        if fixtures is None:
            raise EditorError(
                "the fixtures have errors", code="refused", diagnostics=[d.to_json() for d in problems]
            )
        return fixtures, False
    return None, False


def _same_origin(websocket: WebSocket) -> bool:
    """A WebSocket opened by another site's page would carry our cookie: refuse it."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    if origin is None:
        return True  # not a browser (tests, tools): the cookie still has to be right
    return host is not None and origin.split("://", 1)[-1] == host
