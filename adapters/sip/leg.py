"""`SipCallLeg`: the runtime's `CallLeg` port over one pjsua2 call.

Place: the SIP adapter's face to the runtime; the composition root answers each incoming
`CallHandle` (from `ivr.adapters.sip.pjthread`) with `await leg.answer()` and runs the flow
on the leg. Everything here is trio; pjsua2 is reached only through the handle's commands.

- Prompts: a `SpokenPrompt` with `audio` plays that WAV file, otherwise its text is rendered
  by the `PromptRenderer` (espeak-ng, `ivr.adapters.speech`). The prompt lasts its known
  duration, timed here in trio (a player's end-of-file callback runs on the media clock
  thread, so it is not used); barge-in is the first digit ending that wait.
- Digits: RFC 4733 events and SIP INFO (`application/dtmf-relay`) both arrive through
  `onDtmfDigit` into one per-call buffer, so keys typed during a prompt are kept.
- The far end hanging up sets the handle's `ended`: the current wait raises `CallEnded` at
  once, and so does every later method (`hangup` excepted: it is idempotent).
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import trio

from ivr.adapters.events import first_set
from ivr.adapters.sip.pjthread import CallHandle, SipEndpoint
from ivr.adapters.speech.espeak import RenderedPrompt
from ivr.adapters.speech.wavfile import write_tone
from ivr.adapters.storage.durable import sync_to_disk
from ivr.runtime.ports import TYPE_AHEAD_LIMIT, CallEnded, Recording, RecordingEnd, SpokenPrompt

# Played prompts are stopped a little after their nominal end: the player starts on the next
# media clock tick and the last frame needs its 20 ms.
_PROMPT_TAIL = 0.06
_USER = re.compile(r"sips?:([^@;>:]+)@")

log = logging.getLogger("ivr.adapters.sip.leg")


class PromptRenderer(Protocol):
    """Turns prompt text into a playable 8 kHz WAV file (see `ivr.adapters.speech`)."""

    async def render(self, text: str, language: str) -> RenderedPrompt: ...


def uri_user(uri: str) -> str:
    """The user part of a SIP URI (`"Bob" <sip:1380013@host>` -> `1380013`), else the URI."""
    match = _USER.search(uri)
    return match.group(1) if match else uri


class SipCallLeg:
    """One caller on SIP, as the engine sees it (implements `CallLeg`, `HangupNotice` and
    `HangupWatch`)."""

    def __init__(
        self,
        handle: CallHandle,
        renderer: PromptRenderer,
        *,
        endpoint: SipEndpoint | None = None,
        recordings_dir: str | Path | None = None,
        dial_domain: str = "127.0.0.1",
    ) -> None:
        self._handle = handle
        self._renderer = renderer
        self._endpoint = endpoint
        self._recordings = (
            Path(recordings_dir)
            if recordings_dir is not None
            else Path(tempfile.gettempdir()) / "ivr-recordings"
        )
        self._dial_domain = dial_domain
        self._digits: deque[str] = deque()
        self.dropped_keys = 0  # keys pressed while the type-ahead was full
        self._changed = trio.Event()
        self._secret = False
        self._we_hung_up = False
        handle.on_digit(self._digit)
        handle.on_end(self._notify)

    # -- identity ----------------------------------------------------------------------
    @property
    def call_id(self) -> str:
        return self._handle.sip_call_id

    @property
    def caller(self) -> str:
        return uri_user(self._handle.remote_uri)

    @property
    def dialed(self) -> str:
        return uri_user(self._handle.local_uri)

    @property
    def handle(self) -> CallHandle:
        return self._handle

    # -- state changes (run in trio, from the handle's callbacks) -----------------------
    def _digit(self, digit: str) -> None:
        if len(self._digits) >= TYPE_AHEAD_LIMIT:
            self.dropped_keys += 1  # never the key itself: it may be part of a PIN
            if self.dropped_keys == 1:
                log.warning(
                    "call %s: %d keys typed ahead unread; further keys dropped",
                    self.call_id,
                    TYPE_AHEAD_LIMIT,
                )
            return
        self._digits.append(digit)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _check(self) -> None:
        if self._handle.ended.is_set():
            raise CallEnded(self.call_id)

    async def _wait(self, seconds: float, *, want_digit: bool) -> bool:
        """Sleep up to `seconds`; True as soon as a digit is buffered (if `want_digit`).
        Raises `CallEnded` the moment the far end is gone."""
        with trio.move_on_after(seconds):
            while True:
                self._check()
                if want_digit and self._digits:
                    return True
                await self._changed.wait()
        self._check()
        return False

    # -- the CallLeg port ----------------------------------------------------------------
    async def answer(self, timeout: float | None = None) -> None:
        """Send 200 OK and wait for audio; `CallEnded` when the caller gave up (CANCEL)."""
        await self._handle.answer(timeout)

    async def play(self, prompt: SpokenPrompt, *, barge_in: bool) -> bool:
        self._check()
        if barge_in and self._digits:  # type-ahead already answers this prompt
            return True
        path, duration = await self._resolve(prompt)
        self._check()
        played = await self._handle.start_playback(str(path))
        try:
            return await self._wait(
                (played if duration is None else duration) + _PROMPT_TAIL, want_digit=barge_in
            )
        finally:
            with trio.CancelScope(shield=True):
                await self._handle.stop_playback()

    async def _resolve(self, prompt: SpokenPrompt) -> tuple[Path, float | None]:
        """The file to play and, for rendered text, its length. An audio file's length is
        what the player reads from it (no extra look at the file per prompt)."""
        if prompt.audio:
            return Path(prompt.audio), None
        rendered = await self._renderer.render(prompt.text, prompt.language)
        return rendered.path, rendered.duration

    async def read_digit(self, timeout: Decimal) -> str | None:
        self._check()
        if not self._digits:
            await self._wait(float(timeout), want_digit=True)
        return self._digits.popleft() if self._digits else None

    def clear_digits(self) -> None:
        self._digits.clear()

    def set_secret_entry(self, active: bool) -> None:
        self._secret = active
        if not self._handle.ended.is_set():
            self._handle.set_recording_muted(active)

    async def record(
        self, *, max_length: Decimal, stop_key: str | None, beep: bool, recording_id: str
    ) -> Recording:
        """Record the caller to `<recordings_dir>/<recording_id>.wav` until the stop key,
        `max_length` or the hang-up (then `ended_by="hangup"`, the file kept). No silence
        detection on this leg: media stays out of Python."""
        self._check()
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", recording_id):
            raise ValueError(f"recording id {recording_id!r} is not a safe file name")
        await trio.to_thread.run_sync(lambda: self._recordings.mkdir(parents=True, exist_ok=True))
        if beep:
            await self.play(SpokenPrompt("", "", str(await self._beep())), barge_in=False)
        path = self._recordings / f"{recording_id}.wav"
        seen = len(self._digits)
        await self._handle.start_recording(str(path), muted=self._secret)
        start = trio.current_time()
        ended_by: RecordingEnd = "max_length"
        try:
            with trio.move_on_after(float(max_length)):
                while True:
                    if self._handle.ended.is_set():
                        ended_by = "hangup"
                        break
                    if stop_key is not None and stop_key in list(self._digits)[seen:]:
                        self._digits.clear()
                        ended_by = "key"
                        break
                    await self._changed.wait()
        finally:
            with trio.CancelScope(shield=True):
                await self._handle.stop_recording()
                # The file is on disk before anyone tells the caller "saved" (a power cut
                # after the call record is written must not lose the audio).
                await trio.to_thread.run_sync(sync_to_disk, path)
        duration = Decimal(str(round(trio.current_time() - start, 2)))
        return Recording(recording_id, duration, str(path), ended_by)

    async def _beep(self) -> Path:
        path = self._recordings / "beep-1000hz-250ms-8k.wav"
        if not path.exists():
            await trio.to_thread.run_sync(write_tone, path, 1000.0, 0.25)
        return path

    async def transfer(self, destination: str, *, mode: str, timeout: Decimal) -> bool:
        """`mode="blind"`: REFER the caller away (True when the far end reports 2xx, then we
        hang up). Otherwise bridge: dial `destination`, connect audio both ways when it
        answers within `timeout`, and return True when the agent side hangs up."""
        self._check()
        uri = (
            destination
            if destination.startswith(("sip:", "sips:"))
            else f"sip:{destination}@{self._dial_domain}"
        )
        if mode == "blind":
            return await self._blind_transfer(uri, float(timeout))
        return await self._bridge(uri, float(timeout))

    async def _blind_transfer(self, uri: str, timeout: float) -> bool:
        handle = self._handle
        await handle.blind_transfer(uri)
        with trio.move_on_after(timeout):
            await first_set(handle.transfer_result, handle.ended)
        ok = handle.transfer_result.is_set() and handle.transfer_status // 100 == 2
        if ok:
            await self.hangup()
            return True
        self._check()
        return False

    async def _bridge(self, uri: str, timeout: float) -> bool:
        if self._endpoint is None:
            raise RuntimeError("this leg was made without an endpoint: it cannot dial out")
        agent = await self._endpoint.make_call(uri)
        try:
            with trio.move_on_after(timeout):
                await first_set(agent.media_ready, agent.ended, self._handle.ended)
            self._check()
            if not agent.media_ready.is_set() or agent.ended.is_set():
                return False
            await self._handle.connect_audio(agent)
            await first_set(agent.ended, self._handle.ended)
            self._check()
            return True
        finally:
            with trio.CancelScope(shield=True):
                await agent.hangup()

    async def hangup(self) -> None:
        if not self._handle.ended.is_set():
            self._we_hung_up = True
        await self._handle.hangup()

    def on_hangup(self, callback: Callable[[], object]) -> None:
        """`HangupNotice`: `callback` runs (in trio) when the caller hangs up, never when we
        did; at once if the caller already has."""

        def ended() -> None:
            if not self._we_hung_up:
                callback()

        self._handle.on_end(ended)

    async def wait_ended(self) -> None:
        """`HangupWatch`: return when the caller hangs up (never when we did)."""
        await self._handle.ended.wait()
        if self._we_hung_up:
            await trio.sleep_forever()
