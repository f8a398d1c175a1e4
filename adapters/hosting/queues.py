"""Agents and queues for the hosted service: the ACD's settings, what a waiting caller
hears, and a journal of the ACD's decisions on the call records.

Place: beside `server`, which opens the ACD (`ivr.runtime.acd.open_acd`) with
`acd_settings(...)` when an agents file is configured.

- Announcements speak the caller's language: `announcement` says the position and expected
  wait in the language of the queue request (the call's language when it was queued), in
  Mandarin when the service has no text in that language.
- Hold music: `--hold-music FILE`, else a short tune generated once into the data
  directory (`hold-music.wav`, 8 kHz mono, like every prompt).
- `AcdJournal` writes `agent_offered`, `agent_connected`, `agent_left` and `agent_call_ended`
  events on the caller's record (agent, queue, outcome; how the agent was offered it, and by
  whom, for transfers and consultations; never the screen data), so a call's trace says
  which agents took it, who did not answer, and how each part ended.
"""

from __future__ import annotations

import logging
import math
import sys
import wave
from array import array
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import trio

from ivr.adapters.hosting.config import HostingConfig
from ivr.flowlang.ir import Project
from ivr.runtime.acd import (
    Acd,
    AcdEvent,
    AcdSettings,
    AgentLeft,
    AgentState,
    AgentStateChanged,
    CallConnected,
    CallFinished,
    CallOffered,
    Position,
    queue_configs,
)
from ivr.runtime.ports import CallEvent, CallRecords, SpokenPrompt

log = logging.getLogger(__name__)
DEFAULT_LANGUAGE = "zh"


def announcement(position: Position) -> SpokenPrompt:
    """Position and expected wait in the caller's language: Mandarin or English (the
    brokerage's languages; `en-GB` is English), else Mandarin."""
    minutes = max(1, round(position.expected_wait / 60))
    if position.request.language.split("-")[0] == "en":
        text = (
            f"You are number {position.position} in the queue. "
            f"Your expected wait is about {minutes} minute{'s' if minutes > 1 else ''}. Please hold."
        )
        return SpokenPrompt(text, "en")
    text = f"您目前排在第{position.position}位，预计等待约{minutes}分钟，请不要挂机。"
    return SpokenPrompt(text, DEFAULT_LANGUAGE)


def acd_settings(config: HostingConfig, project: Project, music: Path | None) -> AcdSettings:
    """One `QueueConfig` per queue the service declares, with the hosting defaults."""
    queues = project.service.queues if project.service else {}
    defaults: dict[str, object] = {
        "announce_every": config.announce_every or None,
        "max_wait": config.queue_max_wait or None,
        "wrap_up": config.wrap_up,
        "ring_timeout": config.agent_ring_seconds,
        "music": str(music) if music is not None else None,
        "announcement": announcement,
    }
    return AcdSettings(queue_configs(queues, **defaults))


async def hold_music(config: HostingConfig) -> Path:
    """The configured hold music, else the generated tune (written on first start)."""
    if config.hold_music is not None:
        if not await trio.to_thread.run_sync(config.hold_music.is_file):
            raise FileNotFoundError(f"hold music {config.hold_music} is not a file")
        return config.hold_music
    path = config.generated_hold_music
    if not await trio.to_thread.run_sync(path.is_file):
        await trio.to_thread.run_sync(write_hold_music, path)
    return path


# A calm phrase (Hz, beats): C major arpeggios, 0.4 s a beat, about 9.6 s in all.
_TUNE = (
    (523.25, 1), (659.25, 1), (783.99, 1), (659.25, 1),
    (587.33, 1), (698.46, 1), (880.00, 1), (698.46, 1),
    (523.25, 1), (659.25, 1), (783.99, 1), (1046.50, 1),
    (493.88, 1), (587.33, 1), (783.99, 1), (587.33, 1),
    (523.25, 2), (659.25, 2), (523.25, 4),
)  # fmt: skip
_BEAT = 0.4


def write_hold_music(path: Path, rate: int = 8000, level: float = 0.18) -> None:
    """Write the default hold music: soft plucked notes (a fundamental and a quieter
    octave, each note decaying), mono 16-bit PCM at `rate`."""
    total = int(sum(beats for _, beats in _TUNE) * _BEAT * rate)
    samples = array("h", bytes(2 * total))
    start = 0
    for frequency, beats in _TUNE:
        n = int(beats * _BEAT * rate)
        attack = int(0.01 * rate)
        for i in range(n):
            t = i / rate
            envelope = min(1.0, i / attack) * math.exp(-3.0 * t) * min(1.0, (n - i) / attack)
            tone = math.sin(2 * math.pi * frequency * t) + 0.3 * math.sin(4 * math.pi * frequency * t)
            samples[start + i] = int(32767 * level * envelope * tone / 1.3)
        start += n
    if sys.byteorder == "big":
        samples.byteswap()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.wav")
    with wave.open(str(partial), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    partial.replace(path)


class AcdJournal:
    """Follows the ACD's events and notes each agent decision on the caller's record."""

    def __init__(self, acd: Acd, records: CallRecords, now: Callable[[], datetime] | None = None) -> None:
        self.acd = acd
        self.records = records
        self.now = now or (lambda: datetime.now(UTC))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        events = self.acd.subscribe(buffer=4096)
        task_status.started()
        while True:
            async for event in events:
                await self._write(event)
            log.warning("the ACD dropped the call journal's subscription; subscribing again")
            events = self.acd.subscribe(buffer=4096)

    async def _write(self, event: AcdEvent) -> None:
        detail: dict[str, object]
        if getattr(event, "remote", False):
            return  # a call held by another instance of a shared center: its journal notes it
        if isinstance(event, CallOffered):
            kind, detail = "agent_offered", {"agent": event.agent_id, "queue": event.queue}
            if event.kind != "queue":
                detail |= {"kind": event.kind, "by": event.by}
        elif isinstance(event, CallConnected):
            kind, detail = "agent_connected", {"agent": event.agent_id, "queue": event.queue}
            if event.kind != "queue":
                detail["kind"] = event.kind
        elif isinstance(event, AgentLeft):
            kind = "agent_left"
            detail = {"agent": event.agent_id, "queue": event.queue, "outcome": event.outcome}
        elif isinstance(event, CallFinished):
            kind = "agent_call_ended"
            detail = {"agent": event.agent_id, "queue": event.queue, "outcome": event.outcome}
        else:
            return
        call_id = event.call_id
        at = self.now() - timedelta(seconds=max(0.0, trio.current_time() - event.at))
        try:
            await self.records.call_event(CallEvent(call_id, kind, at, None, detail))
        except Exception:
            log.exception("call %s: the ACD event %s was not recorded", call_id, kind)


class SessionStore(Protocol):
    """Where agents' logged-in time is kept (`SqliteCallRecords`)."""

    async def agent_logged_in(self, tenant: str, agent: str, at: datetime) -> int: ...
    async def agents_seen(self, sessions: list[int], at: datetime) -> None: ...
    async def agent_logged_out(self, session: int, at: datetime) -> None: ...


class SeatJournal:
    """Follows the ACD's agent states and keeps each login-to-logout span of the tenant's
    agents (seat-hours, `ivr report usage`), with a heartbeat so that a crash closes an open
    span where the server was last alive."""

    HEARTBEAT = 60.0

    def __init__(
        self, acd: Acd, store: SessionStore, tenant: str, now: Callable[[], datetime] | None = None
    ) -> None:
        self.acd = acd
        self.store = store
        self.tenant = tenant
        self.now = now or (lambda: datetime.now(UTC))
        self.sessions: dict[str, int] = {}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        events = self.acd.subscribe(buffer=4096)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._heartbeat)
            task_status.started()
            try:
                while True:
                    async for event in events:
                        if isinstance(event, AgentStateChanged):
                            await self._change(event)
                    events = self.acd.subscribe(buffer=4096)
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    for session in self.sessions.values():
                        await self.store.agent_logged_out(session, self.now())
                    self.sessions.clear()

    async def _change(self, event: AgentStateChanged) -> None:
        agent = event.agent_id
        at = self.now() - timedelta(seconds=max(0.0, trio.current_time() - event.at))  # when it happened
        try:
            if event.state is AgentState.LOGGED_OUT and agent in self.sessions:
                await self.store.agent_logged_out(self.sessions.pop(agent), at)
            elif event.state is not AgentState.LOGGED_OUT and agent not in self.sessions:
                self.sessions[agent] = await self.store.agent_logged_in(self.tenant, agent, at)
        except Exception:
            log.exception("tenant %s: agent %s's session was not recorded", self.tenant, agent)

    async def _heartbeat(self) -> None:
        while True:
            await trio.sleep(self.HEARTBEAT)
            if self.sessions:
                try:
                    await self.store.agents_seen(list(self.sessions.values()), self.now())
                except Exception:
                    log.exception("tenant %s: agent sessions' heartbeat was not recorded", self.tenant)
