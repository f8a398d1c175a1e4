"""Listening to the first seconds of an answered outbound call: who answered, and (for a
machine) when its beep is over.

Place: inside `SipDialer.call`, between the 200 OK and the flow. pjsua2 records the
callee's audio into a WAV file (its recorder writes about every 250 ms); this module reads
what has been written every `POLL` seconds in a worker thread and feeds it to the pure
detectors of `ivr.adapters.dialer.amd`. No Python runs per media frame.
"""

from __future__ import annotations

import array
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import trio

from ivr.adapters.dialer.amd import AmdSettings, BeepDetector, BeepSettings, MachineDetector
from ivr.adapters.sip.pjthread import CallHandle
from ivr.runtime.ports import AnsweredBy, CallEnded

POLL = 0.1
_HEADER = 44  # pjmedia's WAV writer: a 44-byte header, then 16-bit PCM


@dataclass(frozen=True)
class Heard:
    """What the first seconds told: who answered, why, how long it took; for a machine
    whether its beep was heard before the message started."""

    answered_by: AnsweredBy
    reason: str
    seconds: float
    beep: bool = False


class GrowingWav:
    """Reads the samples appended to a WAV file since the last read (pjsua2 is writing it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = _HEADER
        self._odd = b""

    def read_new(self) -> list[int]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._odd + data
        whole = len(data) - len(data) % 2
        self._odd = data[whole:]
        samples = array.array("h")
        samples.frombytes(data[:whole])
        return samples.tolist()


async def listen(
    handle: CallHandle,
    path: Path,
    *,
    leave_message: bool,
    amd: AmdSettings | None = None,
    beep: BeepSettings | None = None,
    beep_wait: float = 30.0,
) -> Heard:
    """Record the callee, decide person or machine; with `leave_message`, for a machine also
    wait (up to `beep_wait` s) for the end of its greeting. Raises `CallEnded` if the callee
    hangs up meanwhile. The recording is removed afterwards (it may hold a person's voice)."""
    await handle.start_recording(str(path))
    started = trio.current_time()
    try:
        reader, detector = GrowingWav(path), MachineDetector(amd)
        verdict = None
        while verdict is None:
            await _pause(handle)
            verdict = detector.feed(await trio.to_thread.run_sync(reader.read_new))
        heard = Heard(verdict, detector.reason, trio.current_time() - started)
        if verdict == "person" or not leave_message:
            return heard
        listener = BeepDetector(beep)
        with trio.move_on_after(beep_wait):
            while not listener.feed(await trio.to_thread.run_sync(reader.read_new)):
                await _pause(handle)
        return Heard(verdict, detector.reason, heard.seconds, listener.heard_beep)
    finally:
        with trio.CancelScope(shield=True):
            await handle.stop_recording()
            with suppress(OSError):
                await trio.to_thread.run_sync(path.unlink)


async def _pause(handle: CallHandle) -> None:
    with trio.move_on_after(POLL):
        await handle.ended.wait()
    if handle.ended.is_set():
        raise CallEnded("the callee hung up while we listened")
