"""`MemoryCallLeg`: a real, in-memory `CallLeg` that a test (or the flow-test runner) drives.

The engine side is the `CallLeg` port. The caller side is `press`, `speak`, `hang_up` and
the `prompts` list; `wait_for` lets a driver sleep until the leg's state changes (a prompt
starts or ends, a digit is read, a recording starts or ends, the call ends). A prompt lasts
`seconds_per_char` per character of text (virtual time under `MockClock`), so barge-in can
be tested.

Recordings: the leg hears no audio. A recording lasts from its start to the stop key, the
hang-up or `max_length`, and that whole time is its length (as on a real leg, which keeps
whatever it heard). A caller who says nothing for `record_silence` seconds (time in which
`speak` was not called) ends it as "silence", and the trailing silence is not counted: a
caller who never spoke leaves an empty recording.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import trio

from ivr.runtime.ports import TYPE_AHEAD_LIMIT, CallEnded, Recording, RecordingEnd, SpokenPrompt


@dataclass(slots=True)
class PlayedPrompt:
    """One prompt as the caller heard it; `cut` when a digit stopped it early."""

    text: str
    language: str
    audio: str | None
    started: float
    ended: float | None = None
    cut: bool = False


@dataclass(slots=True)
class Transferred:
    destination: str
    mode: str
    connected: bool


@dataclass(slots=True, eq=False)
class MemoryCallLeg:
    """A call leg in memory. Every method raises `CallEnded` once the caller has hung up."""

    call_id: str = "call-1"
    caller: str = "13800000000"
    dialed: str = "95500"
    seconds_per_char: float = 0.05
    record_silence: float | None = 30.0  # seconds of caller silence that end a recording
    transfer_seconds: float = 0.0  # how long a connected bridged transfer talks before it ends
    transfer_results: Mapping[str, bool] = field(default_factory=dict)
    prompts: list[PlayedPrompt] = field(default_factory=list)
    transfers: list[Transferred] = field(default_factory=list)
    secret_spans: int = 0
    secret_active: bool = False
    caller_hung_up: bool = False
    flow_hung_up: bool = False
    reads: int = 0
    recording: bool = False
    _speech_until: float = float("-inf")
    _digits: deque[str] = field(default_factory=deque)
    _changed: trio.Event = field(default_factory=trio.Event)
    _caller_gone: trio.Event = field(default_factory=trio.Event)
    _on_hangup: list[Callable[[], object]] = field(default_factory=list)

    # -- the caller's side -------------------------------------------------------------
    def press(self, keys: str) -> None:
        """The caller presses `keys` now (kept in the buffer until read; keys beyond
        `TYPE_AHEAD_LIMIT` unread ones are dropped, as a real leg drops them)."""
        room = TYPE_AHEAD_LIMIT - len(self._digits)
        self._digits.extend(keys[: max(room, 0)])
        self._notify()

    def speak(self, seconds: float) -> None:
        """The caller talks for `seconds` from now: a recording hears it as the message, and
        silence is counted from its end."""
        self._speech_until = max(self._speech_until, trio.current_time() + seconds)
        self._notify()

    def hang_up(self) -> None:
        """The caller hangs up: every leg method now raises `CallEnded`."""
        self.caller_hung_up = True
        self._caller_gone.set()
        self._notify()
        callbacks, self._on_hangup = self._on_hangup, []
        for callback in callbacks:
            callback()

    @property
    def ended(self) -> bool:
        return self.caller_hung_up or self.flow_hung_up

    @property
    def pending_digits(self) -> str:
        return "".join(self._digits)

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Sleep until `condition()` holds (checked each time the leg's state changes)."""
        while not condition():
            await self._changed.wait()

    def poke(self) -> None:
        """Wake `wait_for` sleepers: a driver whose condition reads state outside the leg."""
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _check(self) -> None:
        if self.ended:
            raise CallEnded(self.call_id)

    # -- the engine's side (the CallLeg port) ---------------------------------------
    async def play(self, prompt: SpokenPrompt, *, barge_in: bool) -> bool:
        self._check()
        played = PlayedPrompt(prompt.text, prompt.language, prompt.audio, trio.current_time())
        self.prompts.append(played)
        self._notify()
        duration = max(len(prompt.text), 1) * self.seconds_per_char
        if barge_in and self._digits:  # type-ahead cuts it at once
            played.cut = True
        elif duration <= 0:  # a prompt of no length: one schedule point, as a wait that times out
            self._check()
            await trio.lowlevel.checkpoint()
        else:
            with trio.move_on_after(duration):
                while not (barge_in and self._digits):
                    self._check()
                    await self._changed.wait()
                played.cut = True
        played.ended = trio.current_time()
        self._notify()
        self._check()
        return played.cut

    async def read_digit(self, timeout: Decimal) -> str | None:
        self._check()
        self.reads += 1
        self._notify()
        if self._digits:  # type-ahead: no wait, so no timer either
            return self._digits.popleft()
        with trio.move_on_after(float(timeout)):
            while not self._digits:
                await self._changed.wait()
                self._check()
            return self._digits.popleft()
        return None

    def clear_digits(self) -> None:
        self._digits.clear()

    async def record(
        self, *, max_length: Decimal, stop_key: str | None, beep: bool, recording_id: str
    ) -> Recording:
        """Records until the stop key (a stop key already typed ends it at once, empty), the
        hang-up, `max_length`, or `record_silence` seconds with nothing said."""
        self._check()
        start = trio.current_time()
        ended_by: RecordingEnd = "max_length"
        self.recording = True
        self._notify()
        try:
            with trio.move_on_after(float(max_length)):
                while True:
                    if self.caller_hung_up:
                        ended_by = "hangup"
                        break
                    if stop_key is not None and stop_key in self._digits:
                        self._digits.clear()
                        ended_by = "key"
                        break
                    quiet_until = self._silence_ends(start)
                    if trio.current_time() >= quiet_until:
                        ended_by = "silence"
                        break
                    with trio.move_on_at(quiet_until):
                        await self._changed.wait()
        finally:
            self.recording = False
            self._notify()
        end = trio.current_time()
        if ended_by == "silence":  # the trailing silence is not part of the message
            end = min(end, max(start, self._speech_until))
        duration = Decimal(str(round(end - start, 3)))
        return Recording(recording_id, duration, None, ended_by)

    def _silence_ends(self, start: float) -> float:
        """When the caller's current silence will have lasted `record_silence` seconds."""
        if self.record_silence is None:
            return float("inf")
        return max(start, self._speech_until) + self.record_silence

    def set_secret_entry(self, active: bool) -> None:
        self.secret_active = active
        self.secret_spans += active

    async def transfer(self, destination: str, *, mode: str, timeout: Decimal) -> bool:
        """Connected unless `transfer_results` says otherwise; a connected bridged transfer
        talks for `transfer_seconds` (a caller hanging up meanwhile raises `CallEnded`)."""
        self._check()
        connected = self.transfer_results.get(destination, True)
        self.transfers.append(Transferred(destination, mode, connected))
        self._notify()
        if connected and mode != "blind":
            with trio.move_on_after(self.transfer_seconds):
                await self.wait_for(lambda: self.caller_hung_up)
            self._check()
        await trio.lowlevel.checkpoint()
        return connected

    async def hangup(self) -> None:
        self.flow_hung_up = True
        self._notify()
        await trio.lowlevel.checkpoint()

    def on_hangup(self, callback: Callable[[], object]) -> None:
        """`HangupNotice`: `callback` runs when the caller hangs up (at once if they have)."""
        if self.caller_hung_up:
            callback()
        else:
            self._on_hangup.append(callback)

    async def wait_ended(self) -> None:
        """`HangupWatch`: returns when the caller hangs up (not when the flow does)."""
        if not self.caller_hung_up:
            await self._caller_gone.wait()
