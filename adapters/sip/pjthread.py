"""The one module that owns the pjsua2 thread (and the only one that imports pjsua2/threading).

Place: the innermost part of the SIP adapter. `SipEndpoint` starts one OS thread that runs
pjsua2 (`libCreate`/`libInit`/`libStart`, then `libHandleEvents` plus a command queue) and
hands incoming calls to trio as `CallHandle`s; `ivr.adapters.sip.leg.SipCallLeg` builds the
runtime's `CallLeg` on a handle. Nothing outside this module ever touches a pjsua2 object.

The two directions (see /work/shared/PJSUA2-NOTES.md):
- pj -> trio: callbacks only call `TrioToken.run_sync_soon` with a wrapper that swallows and
  logs exceptions (an exception there would become `TrioInternalError`).
- trio -> pj: `await endpoint.run(fn)` queues `fn` for the pj thread, wakes it by sending a
  bare CRLF to our own SIP port (pjsip ignores keep-alives), and awaits the outcome;
  `pj.Error` comes back as `SipError` in the calling task.

Callers cannot steer the endpoint: a REFER from the far end and an INVITE with Replaces
are declined (603), where pjsua2 would by default dial the REFER's target or hand the call
over. Pitfalls followed: every `Call` is strongly referenced from creation until its DISCONNECTED
callback, which destroys it there; `getInfo()` results are bound before use; a call's
`AudioMedia` is dropped at DISCONNECTED; players/recorders are created and destroyed only in
this thread; `libDestroy` runs in this thread before it ends. The wheel must be built with
SWIG `-threads` (scripts/build-pjsua2.sh) so the GIL is released while pjsua2 waits.
"""

from __future__ import annotations

import errno
import itertools
import logging
import math
import os
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pjsua2 as pj  # type: ignore[import-untyped, import-not-found, unused-ignore]
import trio

from ivr.adapters.errors import AdapterError
from ivr.adapters.sip.limits import calls_counted, effective_max_calls, set_pj_log_level, slot_reserve
from ivr.adapters.sip.probes import ProbeGate
from ivr.adapters.sip.rcvbuf import SipSockets
from ivr.adapters.threadname import name_os_thread
from ivr.runtime.ports import CallEnded

log = logging.getLogger(__name__)
T = TypeVar("T")
_WAKE = b"\r\n\r\n"
_FREE_PORT_ATTEMPTS = 5
DRAINING_RETRY_AFTER = 10  # seconds, in the 503 a draining process answers new INVITEs with
# After a secret span a multi-track recording stays silent this long: a caller's stream fills
# a gap in its packets by concealment (pjmedia's PLC) from the last audio it got, which came
# during the span, so unmuting at once would let up to a quarter second of it through.
SECRET_TAIL = 0.5  # seconds


class SipError(AdapterError):
    """pjsua2 refused an operation (its `pj.Error`, converted in the pj thread). The message
    carries pjsua2's own text; the call usually cannot go on."""


class SipStartError(SipError):
    """The SIP endpoint could not start (port in use, bad address, broken pjsua2 build)."""


@dataclass(frozen=True)
class SipConfig:
    """How the endpoint listens. `port=0` picks a free port (read `SipEndpoint.port`).
    `max_calls` is a request: the build's compiled limit caps it (see `limits`). With `tcp`
    the endpoint listens for SIP over TCP on the same port as UDP.

    Media (RTP) binds to `bind` too, and the SDP's connection address is `public_address`,
    else `bind`: never another interface of the machine. Only with a wildcard `bind`
    ("0.0.0.0") and no `public_address` does pjsua2 pick the machine's default address.

    `poll_ms` is how long the pj thread may sleep in `libHandleEvents` with no call up;
    `call_poll_ms` while calls are up. Commands from trio and SIP traffic wake it at once,
    but pjsua2 hands the media clock thread's callbacks (RFC 4733 digits) to this thread
    only at its next turn: the shorter sleep bounds how late such a key is heard, so a key
    by RFC 4733 is read as soon as one by SIP INFO (about 10 ms instead of up to 100)."""

    bind: str = "127.0.0.1"
    public_address: str = ""  # what SDP and Contact announce; "" = `bind` (see below)
    port: int = 5060
    max_calls: int = 1024
    user: str = "ivr"
    poll_ms: int = 100
    call_poll_ms: int = 10
    log_level: int = 1
    answer_timeout: float = 10.0
    tcp: bool = True
    rtp_port: int = 4000  # the first call's RTP port; each call takes the next free pair
    retry_after: int = 10  # seconds, in the 503 answered when the call slots are nearly all held
    sip_receive_buffer: int = 8 * 1024 * 1024  # bytes for the SIP UDP socket (`rcvbuf`); 0: OS default


# ---------------------------------------------------------------------------------------
# trio side
# ---------------------------------------------------------------------------------------


class _Job(Generic[T]):
    """One command for the pj thread and its result, read in trio after `done`.

    The waiting task may be cancelled at any moment (a caller hanging up cancels every wait
    of its call). Then the job is *abandoned*: if the pj thread has not started it, it never
    runs; if it has run (or is running), its result is handed to `undo` in the pj thread,
    so a call dialled for a task that is gone is hung up instead of ringing forever. The
    lock makes "started" and "abandoned" one decision, taken by whichever side comes first.
    """

    __slots__ = ("_fn", "_lock", "_state", "_undo", "done", "error", "value")

    def __init__(self, fn: Callable[[], T], undo: Callable[[T], object] | None) -> None:
        self._fn, self._undo = fn, undo
        self._lock = threading.Lock()
        self._state = "queued"  # -> running -> done; queued/running/done -> abandoned
        self.done = trio.Event()
        self.value: T | None = None
        self.error: BaseException | None = None

    def run_in_pj_thread(self, endpoint: SipEndpoint) -> None:
        with self._lock:
            if self._state == "abandoned":
                return
            self._state = "running"
        try:
            self.value = self._fn()
        except pj.Error as exc:
            self.error = SipError(_error_text(exc))
        except BaseException as exc:
            self.error = exc
        with self._lock:
            abandoned, self._state = self._state == "abandoned", "done"
        if abandoned:
            self._undo_in_pj_thread()
        else:
            endpoint._to_trio(self.done.set)

    def abandon(self, endpoint: SipEndpoint) -> None:
        """The waiter is gone (trio side): skip the job, or undo what it did."""
        with self._lock:
            finished, self._state = self._state == "done", "abandoned"
        if finished:
            endpoint.post(self._undo_in_pj_thread)

    def _undo_in_pj_thread(self) -> None:
        if self._undo is None or self.error is not None:
            return
        try:
            self._undo(self.value)  # type: ignore[arg-type]
        except Exception:
            log.exception("undoing an abandoned pj-thread command failed")


class CallHandle:
    """Trio's view of one pjsua2 call. Its async methods run in the pj thread; its events
    (`media_ready`, `confirmed`, `ended`, digits) are set in trio by the pj callbacks.
    Every operation raises `CallEnded` once the call is gone."""

    def __init__(self, endpoint: SipEndpoint, key: int, sip_call_id: str, remote_uri: str, local_uri: str):
        self._ep = endpoint
        self.key = key
        self.sip_call_id = sip_call_id
        self.remote_uri = remote_uri
        self.local_uri = local_uri
        self.media_ready = trio.Event()
        self.confirmed = trio.Event()
        self.ended = trio.Event()
        self.end_status = 0
        self.end_reason = ""
        self.transfer_result = trio.Event()
        self.transfer_status = 0
        self._on_digit: Callable[[str], None] | None = None
        self._early_digits: list[str] = []
        self._on_end: list[Callable[[], None]] = []

    # -- events from the pj thread (run in trio) ----------------------------------------
    def on_digit(self, callback: Callable[[str], None]) -> None:
        """Deliver DTMF digits (RFC 4733 or SIP INFO) to `callback`, starting with any that
        arrived before it was set."""
        self._on_digit = callback
        early, self._early_digits = self._early_digits, []
        for digit in early:
            callback(digit)

    def on_end(self, callback: Callable[[], None]) -> None:
        """Call `callback` (in trio) when the call ends; at once if it already has."""
        if self.ended.is_set():
            callback()
        else:
            self._on_end.append(callback)

    def _digit(self, digit: str) -> None:
        if self._on_digit is None:
            self._early_digits.append(digit)
        else:
            self._on_digit(digit)

    def _ended(self, status: int, reason: str) -> None:
        self.end_status, self.end_reason = status, reason
        self.ended.set()
        callbacks, self._on_end = self._on_end, []
        for callback in callbacks:
            callback()

    def _transfer(self, status: int, final: bool) -> None:
        self.transfer_status = status
        if final:
            self.transfer_result.set()

    # -- commands (run in the pj thread) ------------------------------------------------
    async def _do(self, method: str, *args: Any, undo: str | None = None) -> Any:
        """Run the call's `method` in the pj thread; if the task is cancelled after it ran,
        the call's `undo` method runs instead of leaving it half done."""
        if self.ended.is_set():
            raise CallEnded(self.end_reason or "call ended")
        ep, key = self._ep, self.key
        undo_fn = None if undo is None else (lambda _: ep._call_or_none(key, undo))
        return await ep.run(lambda: getattr(ep._call(key), method)(*args), undo=undo_fn)

    async def ring(self) -> None:
        """Send 180 Ringing (done on arrival already; for re-ringing after early media)."""
        await self._do("answer_with", 180)

    async def answer(self, timeout: float | None = None) -> None:
        """Send 200 OK and wait until audio flows (media active) or the caller gives up."""
        await self._do("answer_with", 200)
        with trio.move_on_after(self._ep.config.answer_timeout if timeout is None else timeout):
            async with trio.open_nursery() as nursery:

                async def _watch_end() -> None:
                    await self.ended.wait()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(_watch_end)
                await self.media_ready.wait()
                nursery.cancel_scope.cancel()
        if self.ended.is_set():
            raise CallEnded(self.end_reason or "caller hung up before answer")
        if not self.media_ready.is_set():
            raise SipError("answered, but no audio stream came up")

    async def start_playback(self, path: str) -> float:
        """Play a WAV file to the caller (replacing any prompt that is playing); its length
        in seconds, as the player read it. `FileNotFoundError` if there is no such file."""
        seconds: float = await self._do("start_playback", path, undo="stop_playback")
        return seconds

    async def stop_playback(self) -> None:
        """Stop the prompt; a no-op when none plays or the call is gone. Queued, not waited
        for: the pj thread runs it before any later command of this call."""
        if not self.ended.is_set():
            self._ep.post(lambda: self._ep._call_or_none(self.key, "stop_playback"))

    async def start_recording(self, path: str, *, muted: bool = False) -> None:
        await self._do("start_recording", path, muted, undo="stop_recording")

    async def stop_recording(self) -> None:
        await self._ep.run(lambda: self._ep._call_or_none(self.key, "stop_recording"))

    def set_recording_muted(self, muted: bool) -> None:
        """Stop/resume feeding caller audio to the recorder (for secrets); fire and forget."""
        self._ep.post(lambda: self._ep._call_or_none(self.key, "set_recording_muted", muted))

    async def hangup(self, status: int = 603) -> None:
        """Hang up (BYE when answered, `status` before) and wait until pjsua2 confirms."""
        if self.ended.is_set():
            return
        await self._ep.run(lambda: self._ep._call_or_none(self.key, "hangup_with", status))
        with trio.move_on_after(5):
            await self.ended.wait()

    async def refuse(self, status: int, *, retry_after: int | None = None) -> None:
        """Turn the call away unanswered with `status` (404, 503, ...) and, when given, a
        `Retry-After` header; wait until pjsua2 confirms."""
        if self.ended.is_set():
            return
        await self._ep.run(lambda: self._ep._call_or_none(self.key, "refuse", status, retry_after))
        with trio.move_on_after(5):
            await self.ended.wait()

    async def blind_transfer(self, destination: str) -> None:
        """Send REFER; `transfer_result`/`transfer_status` tell how the far end did."""
        await self._do("refer", destination)

    async def connect_audio(self, other: CallHandle) -> None:
        """Cross-connect this call's audio with `other`'s (an agent bridge)."""
        await self._ep.run(lambda: self._ep._cross_connect(self.key, other.key))

    async def transmit(self, other: CallHandle, on: bool) -> None:
        """Start (or stop) sending this call's audio to `other` in the conference bridge; a
        no-op when either call is gone."""
        await self._ep.run(lambda: self._ep._transmit(self.key, other.key, on))

    async def start_music(self, path: str) -> None:
        """Play a WAV file to the caller in a loop (hold music) until `stop_playback`."""
        await self._do("start_playback", path, True)

    async def send_dtmf(self, digits: str) -> None:
        """Send DTMF to the far end: RFC 4733 events, or SIP INFO when it offered none."""
        await self._do("send_dtmf", digits)

    async def record_tracks(
        self, tracks: Mapping[str, str], inputs: Mapping[str, Sequence[CallHandle]]
    ) -> None:
        """A multi-track recording owned by this call: one mono WAV file per track (`tracks`:
        name -> path), each taking the voices of its `inputs`. The first call starts every
        file in one step, all fed by the same media clock (and silence when nobody speaks),
        so the files stay aligned to a frame and can be merged into channels; later calls
        change whose voices each track takes. While this call keys a secret every track
        records silence."""
        paths = dict(tracks)
        keys = {name: [handle.key for handle in handles] for name, handles in inputs.items()}
        await self._ep.run(lambda: self._ep._record_tracks(self.key, paths, keys))

    async def stop_tracks(self) -> None:
        """Close the multi-track recording (its files are complete on return); a no-op
        without one."""
        await self._ep.run(lambda: self._ep._stop_tracks(self.key))

    async def stream_stats(self) -> tuple[int, int]:
        """(RTP packets sent, RTP packets received) on the audio stream so far."""
        result: tuple[int, int] = await self._do("rtp_counts")
        return result


class SipEndpoint:
    """The pjsua2 library in its thread. Use `open_sip_endpoint`; receive calls from
    `incoming` (a trio channel of `CallHandle`), place them with `make_call`."""

    _running = False  # one per process (trio thread only)

    def __init__(self, config: SipConfig, token: trio.lowlevel.TrioToken) -> None:
        self.config = config
        self.port = 0
        self.max_calls = 0
        self._token = token
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._wake_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._wake_sock.setblocking(False)
        self._incoming_send, self.incoming = trio.open_memory_channel[CallHandle](math.inf)
        self._arrivals: deque[float] = deque()  # trio thread: INVITE times, oldest first
        self._started = trio.Event()
        self._stopped = trio.Event()
        self._start_error: SipStartError | None = None
        self._thread = threading.Thread(target=self._main, name="pjsua2", daemon=True)
        self._keys = itertools.count(1)
        # pj thread only:
        self._calls: dict[int, _PjCall] = {}
        self._tracks: dict[int, _Tracks] = {}  # multi-track recordings by owner call key
        self._unmute_due: dict[int, float] = {}  # owner call key -> when its tracks unmute
        self._silence: Any = None  # the null sound device's port: silence on the media clock
        self._stopping = False
        self._wake_pending = False  # a wake datagram is on its way and not yet drained after
        self._ep: Any = None
        self._account: Any = None
        self._presenter: Any = None  # a second account whose From is the caller, per call
        self._presenter_config: Any = None
        # Overload control (see ivr.adapters.hosting.overload): trio sets `_refusal` (the
        # Retry-After seconds) while the server is overloaded; the pj thread then answers
        # new INVITEs 503 itself and counts them in `refused_overloaded`.
        self._refusal: int | None = None
        self.refused_overloaded = 0
        # Call slots: the pj thread answers 503 itself while pjsua2's own count of its calls
        # leaves less than `limits.slot_reserve` free, counting them in `refused_full`. That
        # count includes calls we hung up whose BYE is not yet answered (up to 32 s when the
        # 200 OK is lost, see `rcvbuf`): under churn it ran ahead of trio's count and pjsua2
        # answered 486 Busy Here. `slots_in_use` is that count as the last lag probe read it
        # (for /health and /metrics).
        self._slots_free_at_least = 0  # set at start from the limit in force
        self.refused_full = 0
        self.slots_in_use = 0
        # Draining (`stop_taking_calls`): new INVITEs and OPTIONS probes get 503 here.
        self._draining = False
        self.probe_gate: ProbeGate | None = None
        self._probe_sent = 0.0
        self._probe_ran = 0.0
        self._probe_lag = 0.0
        self._sip_sockets: SipSockets | None = None  # the SIP port's sockets, once started

    # -- trio -> pj ------------------------------------------------------------------------
    def post(self, fn: Callable[[], object]) -> None:
        """Queue `fn` for the pj thread without waiting (errors are logged there)."""

        def job() -> None:
            try:
                fn()
            except pj.Error as exc:
                log.warning("pjsua2: %s", _error_text(exc))
            except Exception:
                log.exception("pj-thread command failed")

        self._commands.put(job)
        self._wake()

    async def run(self, fn: Callable[[], T], *, undo: Callable[[T], object] | None = None) -> T:
        """Run `fn` in the pj thread and return its result here; `pj.Error` -> `SipError`.

        Cancelled while waiting, `fn` does not run if it has not started; if it has, `undo`
        (when given) gets its result in the pj thread: pass one for anything that creates
        or starts something (a call, a recorder) that nobody would otherwise stop."""
        job: _Job[T] = _Job(fn, undo)
        self._commands.put(lambda: job.run_in_pj_thread(self))
        self._wake()
        try:
            await job.done.wait()
        except BaseException:
            job.abandon(self)
            raise
        if job.error is not None:
            raise job.error
        return job.value  # type: ignore[return-value]

    def refuse_new_calls(self, retry_after: int | None) -> None:
        """While `retry_after` is not None, answer every new INVITE at once, in the pj
        thread, with 503 and `Retry-After: <retry_after>`; None takes calls again."""
        self._refusal = retry_after

    def stop_taking_calls(self) -> None:
        """Draining, for good: from now on the pj thread answers every new INVITE and every
        OPTIONS probe with 503, so a proxy in front (docs/cluster.md) takes this instance out
        of its rotation; calls in progress go on."""
        self._draining = True
        if self.probe_gate is not None:
            self.probe_gate.unavailable = True

    def probe_lag(self) -> tuple[float, int]:
        """(seconds, commands queued): how long the last probe command waited for the pj
        thread, or the one still waiting has waited so far; queues the next probe when
        the last one has run. Call it from trio, regularly (the load monitor does)."""
        now = time.monotonic()
        if self._probe_ran < self._probe_sent:  # still queued: that wait is the lag
            return now - self._probe_sent, self._commands.qsize()
        lag, sent = self._probe_lag, now  # read before the new probe can overwrite it
        self._probe_sent = sent

        def probe() -> None:
            ran = time.monotonic()
            self._probe_lag, self._probe_ran = ran - sent, ran
            self.slots_in_use = calls_counted()

        self._commands.put(probe)
        self._wake()
        return lag, self._commands.qsize()

    def probe_backlog(self) -> int:
        """Bytes of SIP waiting in the kernel for the pj thread to read (0 before start)."""
        return 0 if self._sip_sockets is None else self._sip_sockets.bytes_waiting()

    def probe_setup_wait(self) -> float:
        """Seconds the oldest call still waiting in `incoming` has waited since its INVITE
        reached the pj thread (0.0 when none waits). Call it from trio."""
        waiting = self.incoming.statistics().current_buffer_used
        while len(self._arrivals) > waiting:  # taken up, first in first out
            self._arrivals.popleft()
        return time.monotonic() - self._arrivals[0] if self._arrivals else 0.0

    def _wake(self) -> None:
        # One datagram per drain is enough: commands queued before the pj thread drains are
        # all run by that drain (it clears the flag first, then empties the queue).
        if self.port and not self._wake_pending:
            self._wake_pending = True
            # A full buffer means the thread is awake anyway (or polls soon).
            with suppress(OSError):
                self._wake_sock.sendto(_WAKE, (self._wake_host(), self.port))

    def _wake_host(self) -> str:
        return "127.0.0.1" if _is_wildcard(self.config.bind) else self.config.bind

    async def active_calls(self) -> int:
        """How many calls pjsua2 still holds (ringing, up, or hanging up)."""
        return await self.run(lambda: len(self._calls))

    async def make_call(self, uri: str) -> CallHandle:
        """Dial `uri` (an agent, for a bridge transfer); wait with `confirmed`/`ended`.
        Cancelled meanwhile, the call is not placed, or hung up (CANCEL) if it was."""
        return await self.run(lambda: self._dial(uri), undo=self._abandon_call)

    async def make_call_with_headers(
        self, uri: str, headers: Mapping[str, str], *, caller_id: str | None = None
    ) -> CallHandle:
        """`make_call` with extra SIP headers on the INVITE (values must be header-safe) and,
        with `caller_id` (a name-addr such as `"Zhang Wei" <sip:13800138000@host>`), that
        identity as the INVITE's From, so the far end's phone shows whom the call is for."""
        pairs = [(str(name), str(value)) for name, value in headers.items()]
        return await self.run(lambda: self._dial(uri, pairs, caller_id), undo=self._abandon_call)

    def _abandon_call(self, handle: CallHandle) -> None:
        """pj thread: hang up a call placed for a task that was cancelled meanwhile."""
        log.info("hanging up %s: the task that dialled it was cancelled", handle.remote_uri)
        self._call_or_none(handle.key, "hangup_with", 487)

    # -- pj -> trio ------------------------------------------------------------------------
    def _to_trio(self, fn: Callable[..., object], *args: object) -> None:
        def safe() -> None:
            try:
                fn(*args)
            except Exception:
                log.exception("SIP event handler failed")

        with suppress(trio.RunFinishedError):
            self._token.run_sync_soon(safe)

    # -- the pj thread -----------------------------------------------------------------------
    def _main(self) -> None:
        # pjsua2's own threads (media I/O, events; later the media clock) inherit the name
        # of the thread that starts them: "pjmedia" for those started here, then ours.
        name_os_thread("pjmedia")
        self._start_error = self._guarded_start()
        name_os_thread("pjsua2")
        if self._start_error is not None:
            self._lib_destroy()
            self._to_trio(self._started.set)
            self._to_trio(self._stopped.set)
            return
        self._to_trio(self._started.set)
        try:
            idle, busy = self.config.poll_ms, self.config.call_poll_ms
            while not self._stopping:
                # pjsua2 runs callbacks queued by other threads (the media clock's DTMF)
                # at the start of libHandleEvents: the sleep bounds their delay.
                self._ep.libHandleEvents(busy if self._calls else idle)
                self._drain()
                if self._unmute_due:
                    self._unmute_tracks_due()
        except BaseException:
            log.exception("the pjsua2 thread failed; shutting SIP down")
        finally:
            self._lib_destroy()
            self._to_trio(self._stopped.set)

    def _guarded_start(self) -> SipStartError | None:
        """Start the library; on failure return the error *without* its traceback, whose
        frames would keep the `Endpoint` wrapper alive past `libDestroy`."""
        try:
            self._lib_start()
        except pj.Error as exc:
            return SipStartError(_error_text(exc))
        except Exception as exc:
            log.exception("pjsua2 failed to start")
            return SipStartError(f"pjsua2 failed to start: {exc!r}")
        return None

    def _drain(self) -> None:
        self._wake_pending = False
        while True:
            try:
                job = self._commands.get_nowait()
            except queue.Empty:
                return
            job()

    def _lib_start(self) -> None:
        set_pj_log_level(self.config.log_level)  # quiet from the first line (before libCreate)
        self._ep = pj.Endpoint()
        self._ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = self.config.max_calls
        cfg.uaConfig.userAgent = "ivr"
        cfg.logConfig.level = self.config.log_level
        cfg.logConfig.consoleLevel = self.config.log_level
        cfg.logConfig.msgLogging = False
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        self._ep.libInit(cfg)
        self.port = self._create_transports()
        self._sip_sockets = SipSockets(self.port)
        if self.config.sip_receive_buffer:
            _enlarge_receive_buffers(self._sip_sockets, self.config.sip_receive_buffer)
        self._ep.audDevManager().setNullDev()
        self._ep.libStart()
        self.probe_gate = ProbeGate()
        self.probe_gate.unavailable = self._draining
        self.probe_gate.install()
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{self.config.user}@{self._wake_host()}:{self.port}"
        media = acfg.mediaConfig.transportConfig
        media.port = self.config.rtp_port
        media.boundAddress = "" if _is_wildcard(self.config.bind) else self.config.bind
        media.publicAddress = self.announced_address()
        public = self.config.public_address
        if public:  # else pjsua2 puts the local interface towards the caller in Contact
            acfg.sipConfig.contactForced = f"<sip:{self.config.user}@{public}:{self.port}>"
        self._account = _PjAccount(self)
        self._account.create(acfg, True)
        self._presenter_config = pj.AccountConfig()
        self._presenter_config.idUri = acfg.idUri
        self._presenter_config.mediaConfig.transportConfig = acfg.mediaConfig.transportConfig
        self._presenter_config.sipConfig.contactForced = acfg.sipConfig.contactForced
        self._presenter = _PjAccount(self)
        self._presenter.create(self._presenter_config, False)
        self.max_calls = effective_max_calls()
        self._slots_free_at_least = slot_reserve(self.max_calls)

    def _create_transports(self) -> int:
        """SIP over UDP and, when configured, TCP on the same port; the port. With port 0 a
        free UDP port may be taken for TCP: then both are tried again on another one."""
        attempts = 1 if self.config.port else _FREE_PORT_ATTEMPTS
        for attempt in range(attempts):
            udp = self._ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, self._transport_config(self.config.port))
            info = self._ep.transportGetInfo(udp)
            port = int(str(info.localName).rsplit(":", 1)[1])
            if not self.config.tcp:
                return port
            try:
                self._ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, self._transport_config(port))
            except pj.Error:
                if attempt + 1 == attempts:
                    raise
                self._ep.transportClose(udp)
                continue
            return port
        raise AssertionError("unreachable")

    def _transport_config(self, port: int) -> Any:
        tcfg = pj.TransportConfig()
        tcfg.port = port
        tcfg.boundAddress = self.config.bind
        tcfg.publicAddress = self.config.public_address
        return tcfg

    def announced_address(self) -> str:
        """The address SDP offers for media: `public_address`, else a specific `bind`;
        "" (pjsua2 picks the default interface) only for a wildcard bind without one."""
        if self.config.public_address:
            return self.config.public_address
        return "" if _is_wildcard(self.config.bind) else self.config.bind

    def _lib_destroy(self) -> None:
        """Pitfall 5: hang up, let the BYEs go out, destroy calls, account, library."""
        if self._ep is None:
            return
        try:
            if self._calls:
                self._ep.hangupAllCalls()
                for _ in range(20):
                    if not self._calls:
                        break
                    self._ep.libHandleEvents(50)
            for call in list(self._calls.values()):
                self._forget(call, 0, "shutdown")
            self._tracks.clear()
            self._silence = None
            for account in (self._presenter, self._account):
                if account is not None:
                    account.shutdown()
            self._account = self._presenter = None
            self._ep.libDestroy()
        except BaseException:
            log.exception("pjsua2 shutdown failed")
        finally:
            # Delete the C++ Endpoint now, in this thread: a wrapper kept alive elsewhere
            # (a traceback) would otherwise block the next Endpoint (a process singleton)
            # and run libDestroy again from whichever thread collects it.
            ep, self._ep = self._ep, None
            pj.Endpoint.__swig_destroy__(ep)

    def _call(self, key: int) -> _PjCall:
        call = self._calls.get(key)
        if call is None:
            raise CallEnded("call ended")
        return call

    def _call_or_none(self, key: int, method: str, *args: object) -> object:
        call = self._calls.get(key)
        return None if call is None else getattr(call, method)(*args)

    def _incoming(self, account: Any, call_id: int) -> None:
        call = _PjCall(self, account, call_id)
        ci = call.getInfo()
        handle = CallHandle(self, next(self._keys), ci.callIdString, ci.remoteUri, ci.localUri)
        call.handle = handle
        self._calls[handle.key] = call  # pitfall 1: strong ref until DISCONNECTED
        if self._stopping:
            call.answer_with(503)
            return
        if self._draining:  # as a proxy does with no instance left: try again in a while
            call.refuse(503, DRAINING_RETRY_AFTER)
            return
        if self._refusal is not None:  # overloaded: refuse here, no trip through trio
            call.refuse(503, self._refusal)
            self.refused_overloaded += 1
            return
        if calls_counted() + 1 > self.max_calls - self._slots_free_at_least:  # +1: this call
            call.refuse(503, self.config.retry_after)
            self.refused_full += 1
            return
        call.answer_with(180)
        self._to_trio(self._deliver, handle, time.monotonic())

    def _deliver(self, handle: CallHandle, arrived: float) -> None:  # trio thread
        self._arrivals.append(arrived)
        self._incoming_send.send_nowait(handle)

    def _dial(
        self, uri: str, headers: Sequence[tuple[str, str]] = (), caller_id: str | None = None
    ) -> CallHandle:
        return self._place_call(self._calling_account(caller_id), uri, headers)

    def _place_call(
        self, account: _PjAccount, uri: str, headers: Sequence[tuple[str, str]], local_uri: str = ""
    ) -> CallHandle:
        """pj thread: send the INVITE to `uri` from `account`, with extra `headers`."""
        call = _PjCall(self, account, pj.PJSUA_INVALID_ID)
        handle = CallHandle(self, next(self._keys), "", uri, local_uri)
        call.handle = handle
        prm = pj.CallOpParam(True)
        for name, value in headers:
            header = pj.SipHeader()
            header.hName, header.hValue = name, value
            prm.txOption.headers.append(header)
        call.makeCall(uri, prm)
        self._calls[handle.key] = call  # pitfall 1: strong ref until DISCONNECTED
        handle.sip_call_id = call.getInfo().callIdString
        return handle

    def _calling_account(self, caller_id: str | None) -> Any:
        """The account to dial from: the presenter with its From set to `caller_id` (a dialog
        keeps the From it was created with, so one account serves every call in turn), or
        the IVR's own account."""
        if caller_id is None or self._presenter is None:
            return self._account
        try:
            self._presenter_config.idUri = caller_id
            self._presenter.modify(self._presenter_config)
        except pj.Error as exc:
            log.warning("cannot present %r as the caller: %s", caller_id, _error_text(exc))
            return self._account
        return self._presenter

    def _cross_connect(self, key_a: int, key_b: int) -> None:
        a, b = self._call(key_a), self._call(key_b)
        a.stop_playback()
        b.stop_playback()
        if a.audio is None or b.audio is None:
            raise SipError("both calls need active audio to be connected")
        a.audio.startTransmit(b.audio)
        b.audio.startTransmit(a.audio)

    def _record_tracks(
        self, owner: int, paths: Mapping[str, str], inputs: Mapping[str, Sequence[int]]
    ) -> None:
        tracks = self._tracks.get(owner)
        if tracks is None:
            tracks = self._tracks[owner] = _Tracks(self._silence_port(), paths)
            call = self._calls.get(owner)
            tracks.mute(self._calls, call is not None and call.recording_muted)
        tracks.route(self._calls, {name: set(keys) for name, keys in inputs.items()})

    def _stop_tracks(self, owner: int) -> None:
        self._unmute_due.pop(owner, None)
        tracks = self._tracks.pop(owner, None)
        if tracks is not None:
            tracks.close(self._calls)  # dropping the recorders closes the files in this thread

    def _mute_tracks(self, owner: int, muted: bool) -> None:
        """Mute at once; unmute `SECRET_TAIL` later (unless muted again meanwhile)."""
        if not muted:
            if owner in self._tracks:
                self._unmute_due[owner] = time.monotonic() + SECRET_TAIL
            return
        self._unmute_due.pop(owner, None)
        tracks = self._tracks.get(owner)
        if tracks is not None:
            tracks.mute(self._calls, True)

    def _unmute_tracks_due(self) -> None:
        now = time.monotonic()
        for owner, due in list(self._unmute_due.items()):
            if due <= now:
                del self._unmute_due[owner]
                tracks = self._tracks.get(owner)
                if tracks is not None:
                    tracks.mute(self._calls, False)

    def _silence_port(self) -> Any:
        """Conference slot 0: the null sound device, whose frames are silence."""
        if self._silence is None:
            self._silence = self._ep.audDevManager().getCaptureDevMedia()
        return self._silence

    def _transmit(self, key_a: int, key_b: int, on: bool) -> None:
        a, b = self._calls.get(key_a), self._calls.get(key_b)
        if a is None or b is None or a.audio is None or b.audio is None:
            return  # pitfall 3: a call that is gone has no media to connect or disconnect
        if on:
            a.audio.startTransmit(b.audio)
        else:
            a.audio.stopTransmit(b.audio)

    def _forget(self, call: _PjCall, status: int, reason: str) -> None:
        """DISCONNECTED: drop media, the strong ref and the C++ object, tell trio."""
        call.player = None  # pitfall 3: the call's AudioMedia is gone; no stopTransmit
        call.recorder = None
        call.audio = None
        handle = call.handle
        if handle is not None:
            self._calls.pop(handle.key, None)
            self._to_trio(handle._ended, status, reason)
        call.handle = None
        pj.Call.__swig_destroy__(call)

    # -- lifecycle -------------------------------------------------------------------------
    async def _start(self) -> None:
        if SipEndpoint._running:
            # pjsua2's Endpoint is a process singleton; a second one aborts the process.
            raise SipStartError("a SIP endpoint is already running in this process")
        SipEndpoint._running = True
        try:
            self._thread.start()
            await self._started.wait()
            if self._start_error is not None:
                await self._stopped.wait()
                raise self._start_error
        except BaseException:
            SipEndpoint._running = False
            self._wake_sock.close()
            raise

    async def _stop(self) -> None:
        def stop() -> None:
            self._stopping = True

        self._commands.put(stop)
        self._wake()
        await self._stopped.wait()
        await trio.to_thread.run_sync(self._thread.join)
        self._wake_sock.close()
        if self._sip_sockets is not None:
            self._sip_sockets.close()
        self._incoming_send.close()
        SipEndpoint._running = False


@asynccontextmanager
async def open_sip_endpoint(config: SipConfig | None = None) -> AsyncIterator[SipEndpoint]:
    """Start pjsua2 in its thread, yield the endpoint, and shut it down (calls hung up,
    `libDestroy` in the pj thread) on the way out. One per process at a time."""
    endpoint = SipEndpoint(config or SipConfig(), trio.lowlevel.current_trio_token())
    await endpoint._start()
    try:
        yield endpoint
    finally:
        with trio.CancelScope(shield=True):
            await endpoint._stop()


# ---------------------------------------------------------------------------------------
# pj thread side: pjsua2 subclasses. Every method below runs in the pj thread.
# ---------------------------------------------------------------------------------------


class _PjAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, endpoint: SipEndpoint) -> None:
        super().__init__()
        self._endpoint = endpoint

    def onIncomingCall(self, prm: Any) -> None:
        try:
            self._endpoint._incoming(self, prm.callId)
        except Exception:
            log.exception("incoming call setup failed")


class _PjCall(pj.Call):  # type: ignore[misc]
    def __init__(self, endpoint: SipEndpoint, account: Any, call_id: int) -> None:
        super().__init__(account, call_id)
        self._endpoint = endpoint
        self.handle: CallHandle | None = None
        self.audio: Any = None
        self.player: Any = None
        self.recorder: Any = None
        self.recording_muted = False

    # callbacks -------------------------------------------------------------------------
    def onCallState(self, prm: Any) -> None:
        try:
            ci = self.getInfo()  # pitfall 2: bind before use
            if ci.state == pj.PJSIP_INV_STATE_CONFIRMED and self.handle is not None:
                self._endpoint._to_trio(self.handle.confirmed.set)
            elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self._endpoint._forget(self, int(ci.lastStatusCode), str(ci.lastReason))
        except Exception:
            log.exception("call state callback failed")

    def onCallMediaState(self, prm: Any) -> None:
        try:
            ci = self.getInfo()
            media = ci.media
            for index in range(len(media)):
                mi = media[index]
                if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    self.audio = self.getAudioMedia(index)
                    if self.player is not None:
                        self.player.startTransmit(self.audio)
                    if self.handle is not None:
                        self._endpoint._to_trio(self.handle.media_ready.set)
                    return
        except Exception:
            log.exception("media state callback failed")

    def onDtmfDigit(self, prm: Any) -> None:
        if self.handle is not None:
            self._endpoint._to_trio(self.handle._digit, str(prm.digit))

    def onCallTransferStatus(self, prm: Any) -> None:
        if self.handle is not None:
            self._endpoint._to_trio(self.handle._transfer, int(prm.statusCode), bool(prm.finalNotify))

    def onCallTransferRequest(self, prm: Any) -> None:
        # pjsua2 accepts a caller's REFER by default and dials its Refer-To: anyone who
        # reaches the IVR could make it call any number (toll fraud). Transfers are ours
        # to start (the flow's `transfer` node, the agent desktop), never the caller's.
        prm.statusCode = 603
        log.warning("refused a REFER from the caller of %s", self.handle.sip_call_id if self.handle else "?")

    def onCallReplaceRequest(self, prm: Any) -> None:
        # An INVITE with Replaces would take this call over (another party hijacking it).
        prm.statusCode = 603
        log.warning(
            "refused an INVITE that tried to replace call %s", self.handle.sip_call_id if self.handle else "?"
        )

    # commands --------------------------------------------------------------------------
    def answer_with(self, status: int) -> None:
        prm = pj.CallOpParam()
        prm.statusCode = status
        self.answer(prm)

    def hangup_with(self, status: int) -> None:
        prm = pj.CallOpParam()
        prm.statusCode = status
        self.hangup(prm)

    def refuse(self, status: int, retry_after: int | None) -> None:
        """A final response to the unanswered INVITE (`answer` carries headers; `hangup`
        of an unanswered call drops them)."""
        prm = pj.CallOpParam()
        prm.statusCode = status
        if retry_after is not None:
            header = pj.SipHeader()
            header.hName, header.hValue = "Retry-After", str(retry_after)
            prm.txOption.headers.append(header)
        self.answer(prm)

    def refer(self, destination: str) -> None:
        self.xfer(destination, pj.CallOpParam())

    def start_playback(self, path: str, loop: bool = False) -> float:
        self.stop_playback()
        if self.audio is None:
            raise SipError("the call has no active audio to play into")
        if not os.path.isfile(path):
            raise FileNotFoundError(errno.ENOENT, "no such prompt file", path)
        player = pj.AudioMediaPlayer()
        player.createPlayer(path, 0 if loop else pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(self.audio)
        self.player = player
        return _seconds(player)

    def stop_playback(self) -> None:
        player, self.player = self.player, None
        if player is not None and self.audio is not None:
            player.stopTransmit(self.audio)
        # dropping `player` here destroys it in this thread

    # Muting a recorder turns its input level to 0 and keeps it connected: the bridge then
    # keeps pulling the call's audio, so its jitter buffer drains in real time. A recorder
    # disconnected for a secret entry left the call port without a listener: its jitter
    # buffer held the last half second of the entry (keypad tones, a PIN read aloud) and gave
    # it to the recorder on reconnection (found by tests/audit/test_secrets_audit_sip.py).
    def start_recording(self, path: str, muted: bool) -> None:
        self.stop_recording()
        if self.audio is None:
            raise SipError("the call has no active audio to record")
        recorder = pj.AudioMediaRecorder()
        recorder.createRecorder(path)
        self.recorder = recorder
        self.recording_muted = muted
        recorder.adjustRxLevel(0.0 if muted else 1.0)
        self.audio.startTransmit(recorder)

    def set_recording_muted(self, muted: bool) -> None:
        if self.handle is not None:
            self._endpoint._mute_tracks(self.handle.key, muted)
        if self.recorder is not None and muted != self.recording_muted:
            self.recorder.adjustRxLevel(0.0 if muted else 1.0)
        self.recording_muted = muted

    def stop_recording(self) -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is not None and self.audio is not None:
            self.audio.stopTransmit(recorder)
        # dropping `recorder` closes the WAV file (header fixed up) in this thread

    def send_dtmf(self, digits: str) -> None:
        try:
            self.dialDtmf(digits)  # RFC 4733, when the far end offered telephone-event
        except pj.Error:
            prm = pj.CallSendDtmfParam()
            prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO
            prm.digits = digits
            self.sendDtmf(prm)

    def rtp_counts(self) -> tuple[int, int]:
        ci = self.getInfo()
        media = ci.media
        for index in range(len(media)):
            if media[index].type == pj.PJMEDIA_TYPE_AUDIO:
                stat = self.getStreamStat(index)
                rtcp = stat.rtcp
                return int(rtcp.txStat.pkt), int(rtcp.rxStat.pkt)
        return 0, 0


class _Tracks:
    """One multi-track recording (pj thread only): a mono recorder per track, each fed the
    silence of the null sound device from the start, so every file gets a frame on every
    tick of the one media clock whoever speaks (pjsua2's recorder writes nothing while no
    port transmits to it). Muted, the tracks keep only the silence."""

    def __init__(self, silence: Any, paths: Mapping[str, str]) -> None:
        self.silence = silence
        self.recorders: dict[str, Any] = {}
        for name, path in paths.items():
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(path)
            self.recorders[name] = recorder
        for recorder in self.recorders.values():  # back to back: aligned within a frame
            silence.startTransmit(recorder)
        self.inputs: dict[str, set[int]] = {name: set() for name in paths}
        self.muted = False

    def route(self, calls: Mapping[int, _PjCall], wanted: Mapping[str, set[int]]) -> None:
        if not self.muted:
            self._connect(calls, wanted)
        self.inputs = {name: set(wanted.get(name, ())) for name in self.recorders}

    def mute(self, calls: Mapping[int, _PjCall], muted: bool) -> None:
        if muted == self.muted:
            return
        nobody: dict[str, set[int]] = {name: set() for name in self.recorders}
        self._connect(calls, nobody if muted else self.inputs, current=self.inputs if muted else nobody)
        self.muted = muted

    def close(self, calls: Mapping[int, _PjCall]) -> None:
        if not self.muted:
            self._connect(calls, {name: set() for name in self.recorders})
        for recorder in self.recorders.values():
            self.silence.stopTransmit(recorder)
        self.recorders.clear()

    def _connect(
        self,
        calls: Mapping[int, _PjCall],
        wanted: Mapping[str, set[int]],
        current: Mapping[str, set[int]] | None = None,
    ) -> None:
        current = self.inputs if current is None else current
        for name, recorder in self.recorders.items():
            now, then = current.get(name, set()), wanted.get(name, set())
            for key in now ^ then:
                call = calls.get(key)
                if call is None or call.audio is None:  # pitfall 3: a gone call's media is gone
                    continue
                if key in then:
                    call.audio.startTransmit(recorder)
                else:
                    with suppress(pj.Error):  # never connected (no audio back then)
                        call.audio.stopTransmit(recorder)


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def _enlarge_receive_buffers(sockets: SipSockets, size: int) -> None:
    granted = sockets.enlarge_receive_buffers(size)
    if not granted or min(granted) < size:
        log.warning(
            "the SIP UDP socket's receive buffer is %s bytes, %d asked: under load SIP "
            "messages may be dropped (raise net.core.rmem_max)",
            granted,
            size,
        )


def _is_wildcard(address: str) -> bool:
    return address in ("", "0.0.0.0")


def _seconds(player: Any) -> float:
    """How long a WAV player plays: its payload over the bytes per second of its port."""
    info, port = player.getInfo(), player.getPortInfo()
    fmt = port.format
    per_second = fmt.clockRate * max(1, fmt.channelCount) * info.payloadBitsPerSample / 8
    return float(info.sizeBytes / per_second) if per_second else 0.0


def _error_text(exc: BaseException) -> str:
    info = getattr(exc, "info", None)
    if callable(info):
        try:
            return str(info())
        except Exception:
            pass
    return str(exc)
