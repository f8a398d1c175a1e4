"""`CallSupervisor`: one trio task per call, in one nursery; admission first.

Place: between the SIP endpoint's `incoming` channel and `Engine.run_call`. Each incoming
call is decided at once (`Admission`): refused ones get their 404/503 in a small task of
their own; admitted ones get a task that rings (optionally), answers, runs the entry flow
of the dialed number and hangs up. Every call task catches its own failures (a pjsua2
error, a broken prompt file, a bug), so one bad call never harms another, and the
`finally` of each task hangs up and closes the call's recording whatever happened.

Shutdown: `drain(seconds)` refuses new calls with 503, waits for the calls in progress to
end, and at the limit cancels the rest (the engine then writes them as "interrupted" and
the leg hangs up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import trio

from ivr.adapters.hosting.admission import Admission, Admit
from ivr.adapters.hosting.leg import HostedCallLeg, new_call_id
from ivr.adapters.hosting.live import LiveCall, LiveCalls
from ivr.adapters.hosting.metrics import Metrics
from ivr.adapters.sip.leg import PromptRenderer, uri_user
from ivr.adapters.sip.pjthread import CallHandle, SipEndpoint
from ivr.runtime.engine import Engine
from ivr.runtime.ports import CallEnded, CallEvent, CallRecords

log = logging.getLogger(__name__)
HANGUP_GRACE = 5.0  # seconds a call task may spend hanging up and closing its recording


@dataclass(frozen=True)
class CallSettings:
    """What every call task needs besides the engine."""

    renderer: PromptRenderer
    records: CallRecords
    recordings_dir: Path
    record_dir: Path | None  # whole-call recordings (None: off)
    ring_seconds: float = 0.0


class CallSupervisor:
    """Takes calls from `endpoint.incoming` and runs each in its own task."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        engine: Engine,
        admission: Admission,
        live: LiveCalls,
        metrics: Metrics,
        settings: CallSettings,
    ) -> None:
        self.endpoint = endpoint
        self.engine = engine
        self.admission = admission
        self.live = live
        self.metrics = metrics
        self.settings = settings
        self._scopes: dict[str, trio.CancelScope] = {}
        self.on_admit: Callable[[], object] | None = None  # the dialer's make_room (outbound)
        self._idle = trio.Event()
        self._idle.set()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Receive calls until the endpoint closes its channel (cancel to stop early)."""
        async with trio.open_nursery() as nursery:
            task_status.started()
            async for handle in self.endpoint.incoming:
                self._dispatch(nursery, handle)

    def _dispatch(self, nursery: trio.Nursery, handle: CallHandle) -> None:
        decision = self.admission.decide(uri_user(handle.local_uri))
        if not isinstance(decision, Admit):
            self.metrics.rejected_total[decision.reason] += 1
            nursery.start_soon(self._refuse, handle, decision.status)
            return
        call_id = new_call_id()
        self.admission.enter()
        if self.on_admit is not None:
            self.on_admit()  # inbound keeps priority: outbound calls give up channels
        self._idle = trio.Event() if self._idle.is_set() else self._idle
        scope = self._scopes[call_id] = trio.CancelScope()
        nursery.start_soon(self._call, handle, decision.flow, call_id, scope)

    async def _refuse(self, handle: CallHandle, status: int) -> None:
        try:
            await handle.hangup(status)
        except Exception:
            log.exception("could not refuse a call with %d", status)

    async def _call(self, handle: CallHandle, flow: str, call_id: str, scope: trio.CancelScope) -> None:
        leg = HostedCallLeg(
            handle,
            self.settings.renderer,
            call_id=call_id,
            endpoint=self.endpoint,
            recordings_dir=self.settings.recordings_dir,
            record_dir=self.settings.record_dir,
        )
        try:
            with scope:
                await self._run(leg, flow)
        except Exception:
            self.metrics.call_errors_total += 1
            log.exception("call %s (%s) failed outside the engine", call_id, leg.sip_call_id)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(HANGUP_GRACE):
                await self._close(leg)
            del self._scopes[call_id]
            self.admission.leave()
            if self.admission.active == 0:
                self._idle.set()

    async def _run(self, leg: HostedCallLeg, flow: str) -> None:
        self.live.expect(leg.call_id, leg.sip_call_id)
        try:
            if self.settings.ring_seconds:
                await _ring(leg, self.settings.ring_seconds)
            await leg.answer()
        except CallEnded:  # the caller gave up while it rang (CANCEL): no call record
            self._unanswered(leg, flow)
            return
        await leg.start_call_recording()
        await self.engine.run_call(leg, flow)

    def _unanswered(self, leg: HostedCallLeg, flow: str) -> None:
        now = datetime.now(UTC)
        call = LiveCall(
            leg.call_id, leg.caller, leg.dialed, flow, now, leg.sip_call_id, None, now, "cancelled"
        )
        self.live.ended_outside_engine(call)
        self.metrics.calls_total["cancelled"] += 1

    async def _close(self, leg: HostedCallLeg) -> None:
        """Count the call's RTP, close its recording, hang up; each step may fail alone."""
        await leg.read_rtp_counts()
        if leg.rtp is not None:
            self.metrics.rtp_sent_total += leg.rtp[0]
            self.metrics.rtp_received_total += leg.rtp[1]
        try:
            await leg.stop_call_recording()
            for segment in leg.segments:
                await self.settings.records.store_recording(leg.call_id, segment, {"kind": "call"})
        except Exception:
            log.exception("call %s: could not close its recording", leg.call_id)
        try:
            await leg.hangup()
        except Exception:
            log.exception("call %s: hang-up failed", leg.call_id)

    # -- shutdown ------------------------------------------------------------------------
    async def drain(self, seconds: float) -> int:
        """Refuse new calls; wait up to `seconds` for calls to end; cancel the rest.
        Returns how many calls were cut at the limit."""
        self.admission.draining = True
        with trio.move_on_after(seconds):
            await self._idle.wait()
        for call_id in list(self._scopes):
            await self._note(call_id, "drain_limit", seconds=seconds)
        return self.cancel_all()

    async def _note(self, call_id: str, kind: str, **detail: object) -> None:
        """Write a line into a call's record (best effort: the call may just be ending)."""
        if call_id in self.live.active:
            event = CallEvent(call_id, kind, datetime.now(UTC), None, detail)
            with trio.move_on_after(2), suppress(Exception):
                await self.settings.records.call_event(event)

    def cancel_all(self) -> int:
        for scope in self._scopes.values():
            scope.cancel()
        return len(self._scopes)

    async def wait_idle(self) -> None:
        await self._idle.wait()


async def _ring(leg: HostedCallLeg, seconds: float) -> None:
    """Let it ring for `seconds`; `CallEnded` at once if the caller cancels meanwhile."""
    with trio.move_on_after(seconds):
        await leg.handle.ended.wait()
    if leg.handle.ended.is_set():
        raise CallEnded("the caller cancelled while it rang")
