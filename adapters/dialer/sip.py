"""`SipDialer`: the runtime's `Dialer` port over SIP trunks (pjsua2).

Place: the outer ring of outbound calling. The composition root opens the trunks
(`ivr.adapters.sip.pjtrunks.open_trunks`) and hands this class the inbound load it must
yield to; the campaign runner (`ivr.runtime.campaigns.runner`) calls `call` per attempt.

One attempt: INVITE through the trunk (caller ID, digest answered, `X-IVR-Attempt`
header) -> ringing up to the ring timeout (then CANCEL: "no_answer") -> a final failure is
classified by status (486/600/603 "busy", 408/480/487 "no_answer", anything else
"failed") -> on 200 OK and audio, the first seconds are listened to
(`ivr.adapters.dialer.listen`): a person gets the flow at once; a machine is hung up on,
or with `leave_message` gets the flow after its beep -> hang up. The trunk's channel count
is held from the INVITE to the end of the call.

`free_channels` is the idle-capacity rule (`ivr.runtime.campaigns.pacing.idle_channels`)
over the trunk's channels, its reserve, the inbound calls up now and the rise of inbound
calls expected while a new outbound call would hold its channel (the measured holding
time), the calls out already, and the server's overload state. Should inbound callers
still need a channel an outbound call holds, the server's admission asks `yield_channel`
before it would refuse one: an outbound call (ringing ones first) is hung up and retried
later, so an inbound caller is never refused for a campaign's sake.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import trio

from ivr.adapters.dialer.amd import AmdSettings, BeepSettings
from ivr.adapters.dialer.listen import Heard, listen
from ivr.adapters.events import first_set
from ivr.adapters.sip.leg import PromptRenderer, SipCallLeg
from ivr.adapters.sip.pjthread import CallHandle, SipEndpoint, SipError
from ivr.adapters.sip.pjtrunks import Trunks
from ivr.runtime.campaigns.pacing import TrunkLoad, idle_channels
from ivr.runtime.ports import Answered, CallEnded, DialOutcome, DialRequest, DialResult

log = logging.getLogger(__name__)
BUSY = frozenset({486, 600, 603})
NO_ANSWER = frozenset({408, 480, 487})
MEDIA_WAIT = 5.0
HANGUP_GRACE = 5.0
HOLDING_GUESS = 20.0  # seconds, until calls have been measured
HOLDING_WEIGHT = 0.1
MIN_LOOKAHEAD = 2.0
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class InboundLoad(Protocol):
    """What the dialer must yield to (the hosted server's admission counters)."""

    def inbound_calls(self) -> int: ...
    def inbound_per_second(self) -> float: ...
    def overloaded(self) -> bool: ...


@dataclass(frozen=True)
class TrunkLimits:
    """A trunk's channel budget (from the service file's trunk declaration)."""

    channels: int
    reserve: int
    caller_id: str


@dataclass
class _OutCall:
    """An outbound call up, as inbound priority sees it."""

    attempt_id: str
    trunk: str
    scope: trio.CancelScope
    started: float
    answered: bool = False
    yielded: bool = False
    yield_answered: bool = True  # False: a queue callback, whose customer talks with an agent


class NoInbound:
    """An `InboundLoad` for a dialer with no inbound side (tests, `ivr campaign run`)."""

    def inbound_calls(self) -> int:
        return 0

    def inbound_per_second(self) -> float:
        return 0.0

    def overloaded(self) -> bool:
        return False


def classify(status: int) -> DialOutcome:
    """The outcome of a call that ended before it was answered, by its final SIP status."""
    if status in BUSY:
        return "busy"
    if status in NO_ANSWER:
        return "no_answer"
    return "failed"


class OutboundSipLeg(SipCallLeg):
    """The leg an outbound flow runs on: its call id is the attempt's, its caller our caller
    ID and its dialed number the callee's (From and To of the INVITE)."""

    def __init__(
        self,
        handle: CallHandle,
        renderer: PromptRenderer,
        *,
        call_id: str,
        caller: str,
        dialed: str,
        endpoint: SipEndpoint,
        recordings_dir: Path | None = None,
    ) -> None:
        super().__init__(handle, renderer, endpoint=endpoint, recordings_dir=recordings_dir)
        self._call_id, self._caller, self._dialed = call_id, caller, dialed

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def caller(self) -> str:
        return self._caller

    @property
    def dialed(self) -> str:
        return self._dialed


class SipDialer:
    """Outbound calls through the trunks of `trunks`."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        trunks: Trunks,
        limits: Mapping[str, TrunkLimits],
        renderer: PromptRenderer,
        *,
        inbound: InboundLoad | None = None,
        capacity: int = 0,
        work_dir: Path,
        amd: AmdSettings | None = None,
        beep: BeepSettings | None = None,
    ) -> None:
        self.endpoint, self.trunks, self.limits = endpoint, trunks, dict(limits)
        self.renderer = renderer
        self.inbound = inbound or NoInbound()
        self.capacity = capacity  # the server's call capacity (0: no limit beyond the trunks)
        self.work_dir = work_dir
        self.amd, self.beep = amd, beep
        self.outbound = dict.fromkeys(self.limits, 0)  # calls out now (not yielded), per trunk
        self.peak_total = 0  # inbound + outbound at their highest (seen when dialling)
        self.yielded = 0  # calls hung up to give their channel to an inbound caller
        self.holding = HOLDING_GUESS  # seconds an outbound call holds its channel (moving average)
        self._up: dict[str, _OutCall] = {}  # by attempt id

    # -- inbound priority ----------------------------------------------------------------
    def outbound_calls(self) -> int:
        """Outbound calls holding a channel now (those yielded to inbound are not counted)."""
        return sum(self.outbound.values())

    def make_room(self) -> int:
        """An inbound call was just admitted: on every trunk where inbound and outbound calls
        now fill all channels, yield outbound calls until one channel is free again for the
        next inbound caller. Returns how many calls were yielded."""
        inbound, given = self.inbound.inbound_calls(), 0
        for trunk, limits in self.limits.items():
            while inbound + self.outbound[trunk] >= limits.channels and self.yield_channel(trunk):
                given += 1
        return given

    def yield_channel(self, trunk: str) -> bool:
        """An inbound caller needs a channel an outbound call on `trunk` holds: hang up the
        outbound call that loses least (one still ringing, else the newest answered). Its
        attempt ends "yielded" and is retried after the `failed` rule's delay, outside
        any retry budget. An answered call whose request says `yield_answered=False` (a
        queue callback: the customer is with an agent) is never taken. False when no
        outbound call on the trunk can be hung up."""
        candidates = [
            c
            for c in self._up.values()
            if not c.yielded and c.trunk == trunk and (c.yield_answered or not c.answered)
        ]
        if not candidates:
            return False
        call = min(candidates, key=lambda c: (c.answered, -c.started))
        call.yielded = True
        self.outbound[call.trunk] -= 1
        self.yielded += 1
        call.scope.cancel()
        log.info("attempt %s hung up: an inbound caller needed its channel", call.attempt_id)
        return True

    # -- the idle-capacity rule -----------------------------------------------------------
    def free_channels(self, trunk: str) -> int:
        limits = self.limits.get(trunk)
        if limits is None:
            return 0
        load = TrunkLoad(
            channels=limits.channels,
            reserve=limits.reserve,
            inbound=self.inbound.inbound_calls(),
            outbound=self.outbound[trunk],
            inbound_per_second=self.inbound.inbound_per_second(),
            lookahead=max(MIN_LOOKAHEAD, self.holding),
            overloaded=self.inbound.overloaded(),
        )
        free = idle_channels(load)
        if self.capacity:
            free = min(free, self.capacity - load.inbound - sum(self.outbound.values()))
        return max(0, free)

    # -- one attempt -------------------------------------------------------------------------
    async def call(self, request: DialRequest, answered: Answered) -> DialResult:
        limits = self.limits.get(request.trunk)
        if limits is None:
            return DialResult("failed", 0, f"there is no trunk named {request.trunk!r}")
        out = _OutCall(request.attempt_id, request.trunk, trio.CancelScope(), trio.current_time())
        out.yield_answered = request.yield_answered
        self._up[request.attempt_id] = out
        self.outbound[request.trunk] += 1
        self.peak_total = max(self.peak_total, self.inbound.inbound_calls() + self.outbound_calls())
        try:
            with out.scope:
                return await self._place(request, limits, answered, out)
            return DialResult("yielded", 0, "hung up to give its channel to an inbound caller")
        finally:
            del self._up[request.attempt_id]
            if not out.yielded:
                self.outbound[request.trunk] -= 1
            held = trio.current_time() - out.started
            self.holding += (held - self.holding) * HOLDING_WEIGHT

    async def _place(
        self, request: DialRequest, limits: TrunkLimits, answered: Answered, out: _OutCall
    ) -> DialResult:
        try:
            handle = await self.trunks.dial(
                request.trunk, request.number, {"X-IVR-Attempt": _SAFE.sub("_", request.attempt_id)}
            )
        except SipError as exc:
            log.warning("attempt %s: the INVITE could not be sent: %s", request.attempt_id, exc)
            return DialResult("failed", 0, str(exc))
        try:
            return await self._follow(handle, request, limits, answered, out)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(HANGUP_GRACE):
                await handle.hangup()

    async def _follow(
        self, handle: CallHandle, request: DialRequest, limits: TrunkLimits, answered: Answered, out: _OutCall
    ) -> DialResult:
        with trio.move_on_after(float(request.ring_timeout)):
            await first_set(handle.confirmed, handle.ended)
        if not handle.confirmed.is_set():
            if handle.ended.is_set():
                return DialResult(classify(handle.end_status), handle.end_status, handle.end_reason)
            return DialResult("no_answer", 0, f"no answer in {request.ring_timeout} s")
        out.answered = True
        with trio.move_on_after(MEDIA_WAIT):
            await first_set(handle.media_ready, handle.ended)
        if not handle.media_ready.is_set():
            return DialResult("failed", 200, "answered, but no audio came up")
        try:
            heard = await self._listen(handle, request)
        except CallEnded:
            return DialResult("answered", 200, "the callee hung up before a word was said")
        if heard.answered_by == "machine" and not request.leave_message:
            return DialResult("machine", 200, heard.reason)
        leg = OutboundSipLeg(
            handle,
            self.renderer,
            call_id=request.attempt_id,
            caller=limits.caller_id,
            dialed=request.number,
            endpoint=self.endpoint,
        )
        await answered(leg, heard.answered_by)
        outcome: DialOutcome = "machine" if heard.answered_by == "machine" else "answered"
        return DialResult(outcome, 200, heard.reason, ran_flow=True)

    async def _listen(self, handle: CallHandle, request: DialRequest) -> Heard:
        if not request.detect_machines:
            return Heard("person", "detection off", 0.0)
        await trio.to_thread.run_sync(lambda: self.work_dir.mkdir(parents=True, exist_ok=True))
        path = self.work_dir / f"amd-{_SAFE.sub('_', request.attempt_id)}.wav"
        return await listen(handle, path, leave_message=request.leave_message, amd=self.amd, beep=self.beep)
