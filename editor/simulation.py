"""A simulated call in the browser: the runtime's engine on in-memory ports, keys from a keypad.

Place: the editor's "Try it" panel, over a WebSocket (`ivr.editor.app`). The call runs the
real `ivr.runtime.engine.Engine` on the runtime's in-memory ports (`ivr.runtime.testing`):
`MemoryCallLeg` for the caller (wrapped so each prompt and each wait for keys is sent to
the browser), `FixtureOperations` from a flow test's or a typed fixtures block (or the
service's real operations when the composition root supplies them), `ScriptedRouting`,
`MemoryChannels`, and a `VirtualWallClock` when the author pins the clock. Every call
record event (node entered and left, inputs, operations, messages, queues) goes to the
browser as it happens, so the drawing lights up the path. Prompt audio comes from the
injected `Speech` (espeak-ng) when there is one. Secrets stay masked: the engine masks call
events and variables, and keys typed during a secret entry are not echoed.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import trio

from ivr.flowlang.ir import DTMF_KEYS, Project
from ivr.runtime.context import CallPorts, SystemClock
from ivr.runtime.engine import CallOutcome, Engine
from ivr.runtime.flowtest.model import Fixtures
from ivr.runtime.flowtest.runner import fixture_channels
from ivr.runtime.ports import CallEvent, DataOperations, Recording, SpokenPrompt, TransferMode, WallClock
from ivr.runtime.testing import (
    FixtureOperations,
    MemoryCallLeg,
    MemoryCallRecords,
    ScriptedRouting,
    VirtualWallClock,
)

Emit = Callable[[dict[str, object]], None]  # queues a message for the browser, in order
SECONDS_PER_CHAR = 0.04  # how long a prompt "plays" per character: barge-in has time to happen
MAX_AUDIO = 200  # rendered prompts remembered for the browser to fetch


class Speech(Protocol):
    """Renders a prompt to a WAV file (the composition root adapts espeak-ng)."""

    async def wav(self, text: str, language: str) -> Path: ...


OperationsFactory = Callable[[Project], AbstractAsyncContextManager[DataOperations]]
"""The service's real data operations for a project (the composition root binds them with
`ivr.adapters.data.ServiceOperations`); closed when the call ends."""


@dataclass(frozen=True)
class CallSettings:
    """What the author set in the panel before starting the call."""

    flow: str
    caller: str = "13800000000"
    dialed: str = ""
    language: str | None = None
    at: datetime | None = None
    fixtures: Fixtures | None = None


class AudioStore:
    """Rendered prompt files by random id, so the browser can fetch only what it was sent."""

    def __init__(self, limit: int = MAX_AUDIO) -> None:
        self._files: OrderedDict[str, Path] = OrderedDict()
        self._limit = limit

    def add(self, path: Path) -> str:
        key = secrets.token_urlsafe(12)
        self._files[key] = path
        while len(self._files) > self._limit:
            self._files.popitem(last=False)
        return key

    def get(self, key: str) -> Path | None:
        return self._files.get(key)


@dataclass(eq=False)
class BrowserLeg:
    """A `CallLeg` the browser drives: a `MemoryCallLeg` (the runtime's honest in-memory leg)
    whose prompts, waits for keys and transfers are also sent to the browser."""

    inner: MemoryCallLeg
    emit: Emit
    speech: Speech | None = None
    audio: AudioStore = field(default_factory=AudioStore)

    @property
    def call_id(self) -> str:
        return self.inner.call_id

    @property
    def caller(self) -> str:
        return self.inner.caller

    @property
    def dialed(self) -> str:
        return self.inner.dialed

    # the browser's side
    def press(self, keys: str) -> str:
        taken = "".join(k for k in keys if k in DTMF_KEYS)
        self.inner.press(taken)
        return "*" * len(taken) if self.inner.secret_active else taken

    def hang_up(self) -> None:
        self.inner.hang_up()

    # the engine's side
    async def play(self, prompt: SpokenPrompt, *, barge_in: bool) -> bool:
        audio = await self._audio(prompt)
        self.emit({"type": "prompt", "text": prompt.text, "language": prompt.language, "audio": audio})
        cut = await self.inner.play(prompt, barge_in=barge_in)
        if cut:
            self.emit({"type": "cut"})
        return cut

    async def _audio(self, prompt: SpokenPrompt) -> str | None:
        if self.speech is None or not prompt.text.strip():
            return None
        with trio.move_on_after(5):
            try:
                path = await self.speech.wav(prompt.text, prompt.language)
            except Exception:  # no audio is a smaller problem than no call: the text shows
                return None
            return f"api/audio/{self.audio.add(path)}"
        return None

    async def read_digit(self, timeout: Decimal) -> str | None:
        if not self.inner.pending_digits:
            self.emit({"type": "waiting", "timeout": float(timeout), "secret": self.inner.secret_active})
        return await self.inner.read_digit(timeout)

    def clear_digits(self) -> None:
        self.inner.clear_digits()

    async def record(
        self, *, max_length: Decimal, stop_key: str | None, beep: bool, recording_id: str
    ) -> Recording:
        self.emit({"type": "recording", "max_length": float(max_length), "stop_key": stop_key})
        return await self.inner.record(
            max_length=max_length, stop_key=stop_key, beep=beep, recording_id=recording_id
        )

    def set_secret_entry(self, active: bool) -> None:
        self.inner.set_secret_entry(active)

    async def transfer(self, destination: str, *, mode: TransferMode, timeout: Decimal) -> bool:
        self.emit({"type": "transfer", "to": destination, "mode": mode})
        return await self.inner.transfer(destination, mode=mode, timeout=timeout)

    async def hangup(self) -> None:
        await self.inner.hangup()

    async def wait_ended(self) -> None:
        await self.inner.wait_ended()


async def run_call(
    project: Project,
    settings: CallSettings,
    leg: BrowserLeg,
    emit: Emit,
    *,
    data: DataOperations | None = None,
) -> CallOutcome:
    """One simulated call to its end; every record event is sent to the browser. The data
    operations are `data`, or else answered from the settings' fixtures."""
    fixtures = settings.fixtures or Fixtures()

    def forward(event: CallEvent) -> None:
        if event.kind != "prompt":  # the leg sends prompts, with their audio
            emit({"type": "event", "kind": event.kind, "node": event.node, "detail": jsonable(event.detail)})

    records = MemoryCallRecords(on_event=forward, keep_events=False)
    if data is None:
        data = FixtureOperations({k: list(v) for k, v in fixtures.operations.items()})
    clock: WallClock = VirtualWallClock(settings.at) if settings.at else SystemClock()
    channels = fixture_channels(project, fixtures)  # the fixtures' channel answers, as in flow tests
    ports = CallPorts(data, channels, ScriptedRouting(dict(fixtures.queues)), records, clock)
    emit({"type": "started", "flow": settings.flow, "caller": settings.caller})
    outcome = await Engine(project, ports).run_call(leg, settings.flow, language=settings.language)
    emit(
        {
            "type": "ended",
            "how": outcome.how,
            "path": [{"flow": v.flow, "node": v.node, "edge": v.edge} for v in outcome.path],
            "variables": jsonable(outcome.variables),
            "failure": outcome.failure,
            "sent": [{"channel": m.channel, "to": m.to, "message": m.message} for m in channels.outbox],
        }
    )
    return outcome


def jsonable(value: object) -> object:
    """Values of call events and variables as JSON: decimals and dates as text."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
