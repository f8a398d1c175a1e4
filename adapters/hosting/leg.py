"""`HostedCallLeg`: the SIP leg as the hosted server runs it.

Place: a thin layer over `ivr.adapters.sip.leg.SipCallLeg`. Two additions:

- A call id made by the server (`new_call_id`): SIP Call-IDs may hold `@` and other
  characters that do not belong in file names or URLs (`/calls/{id}/trace`); the SIP one
  stays in the live view.
- Whole-call recording (`--record-calls`), as brokerages keep for their phone lines: the
  caller's audio from answer to hang-up, in segments (a `record` node takes the call's
  one recorder for its own file, then the call recording resumes in the next segment).
  Secret entry mutes it (the SIP leg's `set_secret_entry`: the recorder hears silence and
  the file keeps call time), so no PIN is ever on tape.
"""

from __future__ import annotations

import secrets
import time
from contextlib import suppress
from decimal import Decimal
from pathlib import Path

import trio

from ivr.adapters.sip.leg import PromptRenderer, SipCallLeg
from ivr.adapters.sip.pjthread import CallHandle, SipEndpoint
from ivr.runtime.ports import CallEnded, Recording


def new_call_id() -> str:
    """`YYYYmmddTHHMMSS-<12 hex>`: sortable, unique across restarts, safe in paths and URLs."""
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(6)}"


class HostedCallLeg(SipCallLeg):
    """A `SipCallLeg` with the server's call id and optional whole-call recording."""

    def __init__(
        self,
        handle: CallHandle,
        renderer: PromptRenderer,
        *,
        call_id: str,
        endpoint: SipEndpoint | None = None,
        recordings_dir: Path | None = None,
        record_dir: Path | None = None,
    ) -> None:
        super().__init__(handle, renderer, endpoint=endpoint, recordings_dir=recordings_dir)
        self._call_id = call_id
        self._record_dir = record_dir
        self._segment: tuple[Path, float] | None = None
        self.segments: list[Recording] = []
        self.rtp: tuple[int, int] | None = None  # (sent, received), read just before hang-up

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def sip_call_id(self) -> str:
        return self.handle.sip_call_id

    async def hangup(self) -> None:
        """Read the call's RTP counts while the stream still exists, then hang up."""
        await self.read_rtp_counts()
        await super().hangup()

    async def read_rtp_counts(self) -> None:
        handle = self.handle
        if self.rtp is None and handle.media_ready.is_set() and not handle.ended.is_set():
            with suppress(Exception):  # the call may end meanwhile: then its counts are gone
                self.rtp = await handle.stream_stats()

    async def start_call_recording(self) -> None:
        """Begin (or resume) recording the caller into the next segment file."""
        if self._record_dir is None or self.handle.ended.is_set():
            return
        folder = self._record_dir
        await trio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
        path = folder / f"{self._call_id}-call-{len(self.segments) + 1}.wav"
        await self.handle.start_recording(str(path), muted=self._secret)
        self._segment = (path, trio.current_time())

    async def stop_call_recording(self) -> None:
        """Close the current segment (the file is complete once pjsua2 drops the recorder)."""
        if self._segment is None:
            return
        path, start = self._segment
        self._segment = None
        await self.handle.stop_recording()
        seconds = Decimal(str(round(trio.current_time() - start, 2)))
        self.segments.append(Recording(path.stem, seconds, str(path), "call"))

    async def record(
        self, *, max_length: Decimal, stop_key: str | None, beep: bool, recording_id: str
    ) -> Recording:
        """A `record` node: pause the call recording for the node's own file, then resume."""
        recording_call = self._segment is not None
        with trio.CancelScope(shield=True):
            await self.stop_call_recording()
        try:
            return await super().record(
                max_length=max_length, stop_key=stop_key, beep=beep, recording_id=recording_id
            )
        finally:
            if recording_call:
                with trio.CancelScope(shield=True), suppress(CallEnded):
                    await self.start_call_recording()
