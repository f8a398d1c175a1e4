"""`CallSupervisor`: one trio task per call, in one nursery; admission first.

Place: between the SIP endpoint's `incoming` channel and `Engine.run_call`. Each incoming
call is decided at once (`Admission`): refused ones get their 404/503 in a small task of
their own; admitted ones get a task that rings (optionally), answers, runs the entry flow
of the dialed number on the engine of its tenant's current version (held to the end of the
call, whatever is published meanwhile) and hangs up. Every call task catches its own
failures (a pjsua2 error, a broken prompt file, a bug), so one bad call never harms another,
and the `finally` of each task hangs up and closes the call's recording whatever happened.

Shutdown: `drain(seconds)` refuses new calls with 503 (and answers OPTIONS probes 503, so
a proxy in front stops sending calls: docs/cluster.md), waits for the calls in progress to
end, and at the limit cancels the rest (the engine then writes them as "interrupted" and
the leg hangs up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

import trio

from ivr.adapters.events import first_set
from ivr.adapters.hosting.admission import Admission, Admit
from ivr.adapters.hosting.leg import HostedCallLeg, new_call_id
from ivr.adapters.hosting.live import LiveCall, LiveCalls
from ivr.adapters.hosting.metrics import Metrics
from ivr.adapters.sip.leg import uri_user
from ivr.adapters.sip.pjthread import CallHandle, SipEndpoint, SipError
from ivr.adapters.speech.espeak import RenderedPrompt, SpeechError
from ivr.runtime.ports import CallEnded, CallEnding, CallEvent, CallRecords

log = logging.getLogger(__name__)
HANGUP_GRACE = 5.0  # seconds a call task may spend hanging up and closing its recording
ACK_WAIT = 8.0  # seconds a caller has to ACK our 200 OK before we hang up


@dataclass(frozen=True)
class CallSettings:
    """What every call task needs besides its tenant's engine and prompts."""

    records: CallRecords
    record_calls: bool = False  # whole-call recordings, in the tenant's recordings folder
    ring_seconds: float = 0.0


class CallSupervisor:
    """Takes calls from `endpoint.incoming` and runs each in its own task."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        admission: Admission,
        live: LiveCalls,
        metrics: Metrics,
        settings: CallSettings,
    ) -> None:
        self.endpoint = endpoint
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
            self.metrics.call_refused(decision.reason, decision.tenant)
            nursery.start_soon(self._refuse, handle, decision.status, decision.retry_after)
            return
        call_id = new_call_id()
        self.admission.enter(decision)
        if self.on_admit is not None:
            self.on_admit()  # inbound keeps priority: outbound calls give up channels
        self._idle = trio.Event() if self._idle.is_set() else self._idle
        scope = self._scopes[call_id] = trio.CancelScope()
        nursery.start_soon(self._call, handle, decision, call_id, scope)

    async def _refuse(self, handle: CallHandle, status: int, retry_after: int | None) -> None:
        try:
            await handle.refuse(status, retry_after=retry_after)
        except Exception:
            log.exception("could not refuse a call with %d", status)

    async def _call(self, handle: CallHandle, admit: Admit, call_id: str, scope: trio.CancelScope) -> None:
        tenant = admit.tenant
        recordings = tenant.layout.recordings
        leg = HostedCallLeg(
            handle,
            tenant.renderer or _NO_RENDERER,
            call_id=call_id,
            endpoint=self.endpoint,
            recordings_dir=recordings,
            record_dir=recordings if self.settings.record_calls else None,
        )
        try:
            with scope:
                await self._run(leg, admit)
        except SipError as exc:  # the caller's side of SIP/SDP went wrong: not our bug
            self.metrics.call_errors.inc()
            log.warning("call %s (%s) could not go on: %s", call_id, leg.sip_call_id[:200], exc)
        except Exception:
            self.metrics.call_errors.inc()
            log.exception("call %s (%s) failed outside the engine", call_id, leg.sip_call_id[:200])
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(HANGUP_GRACE):
                await self._close(leg)
            del self._scopes[call_id]
            self.admission.leave(admit)
            if self.admission.active == 0:
                self._idle.set()

    async def _run(self, leg: HostedCallLeg, admit: Admit) -> None:
        self.live.expect(leg.call_id, leg.sip_call_id)
        try:
            if self.settings.ring_seconds:
                await _ring(leg, self.settings.ring_seconds)
        except CallEnded:  # the caller gave up while it rang (CANCEL): no call record
            self._unanswered(leg, admit)
            return
        try:
            await self._answer(leg, admit)
        except CallEnded:  # the caller hung up as we answered: the record says so
            return
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_drop_if_never_acknowledged, leg)
            await leg.start_call_recording()
            await admit.version.engine.run_call(leg, admit.flow)
            nursery.cancel_scope.cancel()

    async def _answer(self, leg: HostedCallLeg, admit: Admit) -> None:
        """Answer with the call's record already on disk: whoever got a 200 has a record,
        even if the process dies the next instant (the engine finds it started). The record
        goes through the version's own records, so it names the tenant and version."""
        records = admit.version.engine.ports.records
        now = datetime.now(UTC)
        await records.call_started(leg.call_id, flow=admit.flow, caller=leg.caller, dialed=leg.dialed, at=now)
        try:
            await leg.answer()
        except BaseException as exc:  # gone as we answered, no audio, cancelled: close it
            how: CallEnding = (
                "caller_hangup"
                if isinstance(exc, CallEnded)
                else "interrupted"
                if isinstance(exc, trio.Cancelled)
                else "failed"
            )
            with trio.CancelScope(shield=True), trio.move_on_after(HANGUP_GRACE):
                await records.call_ended(leg.call_id, how=how, at=datetime.now(UTC))
            raise

    def _unanswered(self, leg: HostedCallLeg, admit: Admit) -> None:
        now = datetime.now(UTC)
        call = LiveCall(
            leg.call_id, leg.caller, leg.dialed, admit.flow, now, leg.sip_call_id, None, now, "cancelled",
            tenant=admit.tenant.name, version=admit.version.id,
        )  # fmt: skip
        self.live.ended_outside_engine(call)
        self.metrics.call_ended("cancelled", admit.tenant.name)

    async def _close(self, leg: HostedCallLeg) -> None:
        """Count the call's RTP, close its recording, hang up; each step may fail alone."""
        await leg.read_rtp_counts()
        if leg.rtp is not None:
            self.metrics.rtp_sent.inc(leg.rtp[0])
            self.metrics.rtp_received.inc(leg.rtp[1])
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
        self.endpoint.stop_taking_calls()  # OPTIONS probes and INVITEs: 503 from the pj thread
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


async def _drop_if_never_acknowledged(leg: HostedCallLeg) -> None:
    """Hang up a call whose caller never sends the ACK for our 200 OK: a broken or forged
    INVITE would otherwise hold a call slot (and run its flow) for pjsip's 32 s. The engine
    sees a hang-up."""
    handle = leg.handle
    with trio.move_on_after(ACK_WAIT):
        await first_set(handle.confirmed, handle.ended)
    if not handle.confirmed.is_set() and not handle.ended.is_set():
        log.info("call %s: no ACK for the 200 OK within %.0f s, hanging up", leg.call_id, ACK_WAIT)
        with trio.CancelScope(shield=True), trio.move_on_after(HANGUP_GRACE):
            await handle.hangup()


async def _ring(leg: HostedCallLeg, seconds: float) -> None:
    """Let it ring for `seconds`; `CallEnded` at once if the caller cancels meanwhile."""
    with trio.move_on_after(seconds):
        await leg.handle.ended.wait()
    if leg.handle.ended.is_set():
        raise CallEnded("the caller cancelled while it rang")


class _NoRenderer:
    """The prompts of a tenant that never started (unreachable: such calls are refused)."""

    async def render(self, text: str, language: str) -> RenderedPrompt:
        raise SpeechError("the tenant has no prompt renderer")


_NO_RENDERER = _NoRenderer()
