"""Overload control: the server measures its own latency and refuses new calls before the
calls it holds degrade.

Place: beside `admission` (which consults it for every call) in the hosted runtime; the
composition root starts `LoadMonitor.run` in the server's nursery. Four measures are
sampled every `interval`:

- the **event-loop lag**: how late a `trio.sleep(interval)` wakes up. Every call task,
  every record write and every HTTP request runs on that loop: when it lags, prompts start
  late, timeouts fire late and answers go out late;
- the **pj-thread lag**: how long a command queued for the pjsua2 thread waits before it
  runs (`SipEndpoint.probe_lag`). When SIP and media work saturate that thread, INVITEs
  are answered late and callers retransmit;
- the **SIP backlog**: the bytes of SIP waiting in the kernel for that thread to read them
  (`SipEndpoint.probe_backlog`). The thread can run trio's commands promptly and still be
  seconds behind on its network input (with the 8 MiB receive buffer of `sip.rcvbuf`):
  at 200 new calls/s its command lag stayed under 41 ms while 0.4 to 2.5 MB waited;
- the **call-setup wait**: how long the oldest new call handed to trio has waited, since
  its INVITE, for the server to take it up (`SipEndpoint.probe_setup_wait`). A loop busy
  with per-call work can keep its lag under the limit (each turn runs only the few calls
  it took up) while new calls pile up in front of it, ringing for seconds: the overload
  test once saw calls wait there up to 11 s while the loop's lag stayed near 75 ms.

`OverloadDetector` (no I/O, no clock of its own) smooths each with an exponential moving
average and turns overload on when any stays past its limit for `persist` seconds while
the latest sample is still past it (one late wake-up, a garbage collection or a single
stall, leaves a decaying tail in the average but refuses nobody), off again only when all
are below half their limits and `hold` seconds have passed (no flapping). While it is on,
the pj thread itself answers new INVITEs with **503 and Retry-After** (no trip through the
lagging event loop), and `Admission` refuses any call that got as far as trio.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import trio

log = logging.getLogger(__name__)
_SMOOTHING = 0.3  # weight of a new sample in the moving average


@dataclass(frozen=True)
class OverloadLimits:
    """When the server counts as overloaded. A limit of 0 turns that measure off; all of them
    0 turn overload control off (the measures are still taken and reported)."""

    loop_lag: float = 0.1  # seconds the event loop may run late
    pj_lag: float = 0.1  # seconds a command may wait for the pjsua2 thread
    hold: float = 1.0  # seconds overload stays on at least, once on
    persist: float = 0.25  # seconds a lag must stay past its limit before calls are refused
    retry_after: int = 10  # seconds, in the 503's Retry-After header
    interval: float = 0.05  # seconds between samples
    setup_wait: float = 0.25  # seconds a new call may wait for the server to take it up
    sip_backlog: int = 512 * 1024  # bytes of SIP that may wait for the pjsua2 thread

    @property
    def measures(self) -> tuple[float, float, float, float]:
        """The limits in the order of `LoadReading.averages`."""
        return (self.loop_lag, self.pj_lag, self.setup_wait, self.sip_backlog)

    @property
    def enabled(self) -> bool:
        return any(limit > 0 for limit in self.measures)


@dataclass
class LoadReading:
    """The latest smoothed latencies and the decision (what /health and /metrics show)."""

    loop_lag: float = 0.0
    pj_lag: float = 0.0
    pj_queue: int = 0
    pj_slots: int = 0  # pjsua2's own count of the calls it holds
    setup_wait: float = 0.0
    sip_backlog: float = 0.0  # bytes
    overloaded: bool = False
    peak_loop_lag: float = 0.0
    peak_pj_lag: float = 0.0
    peak_setup_wait: float = 0.0
    peak_sip_backlog: float = 0.0
    episodes: int = 0  # times overload was turned on

    @property
    def averages(self) -> tuple[float, float, float, float]:
        return (self.loop_lag, self.pj_lag, self.setup_wait, self.sip_backlog)


class OverloadDetector:
    """Decides overload from latency samples; pure (the caller passes the time)."""

    def __init__(self, limits: OverloadLimits) -> None:
        self.limits = limits
        self.reading = LoadReading()
        self._since = -math.inf
        self._over_since: float | None = None  # when the averages went past a limit

    def observe(
        self,
        now: float,
        loop_lag: float,
        pj_lag: float,
        pj_queue: int = 0,
        setup_wait: float = 0.0,
        sip_backlog: int = 0,
    ) -> bool:
        """Take one sample (seconds, bytes; negative ones count as 0); True while overloaded."""
        r, limits = self.reading, self.limits
        samples = (max(0.0, loop_lag), max(0.0, pj_lag), max(0.0, setup_wait), float(max(0, sip_backlog)))
        r.loop_lag = _smooth(r.loop_lag, samples[0])
        r.pj_lag = _smooth(r.pj_lag, samples[1])
        r.setup_wait = _smooth(r.setup_wait, samples[2])
        r.sip_backlog = _smooth(r.sip_backlog, samples[3])
        r.pj_queue = pj_queue
        r.peak_loop_lag = max(r.peak_loop_lag, r.loop_lag)
        r.peak_pj_lag = max(r.peak_pj_lag, r.pj_lag)
        r.peak_setup_wait = max(r.peak_setup_wait, r.setup_wait)
        r.peak_sip_backlog = max(r.peak_sip_backlog, r.sip_backlog)
        if not limits.enabled:
            return False
        if not r.overloaded and self._persistently_over(now, samples):
            r.overloaded, self._since, self._over_since = True, now, None
            r.episodes += 1
        elif r.overloaded and not self._over(0.5) and now - self._since >= limits.hold:
            r.overloaded = False
        elif r.overloaded and self._over(1.0):
            self._since = now  # still over the limit: the hold starts again
        return r.overloaded

    def _persistently_over(self, now: float, samples: tuple[float, ...]) -> bool:
        """The averages have been past a limit for `persist` seconds and the latest sample
        is past it too (a stall's decaying tail is not overload)."""
        if not self._over(1.0):
            self._over_since = None
            return False
        if self._over_since is None:
            self._over_since = now
        still = _past(samples, self.limits.measures, 1.0)
        return still and now - self._over_since >= self.limits.persist

    def _over(self, fraction: float) -> bool:
        return _past(self.reading.averages, self.limits.measures, fraction)


def _past(values: tuple[float, ...], limits: tuple[float, ...], fraction: float) -> bool:
    """Some measure whose limit is on is past `fraction` of it."""
    return any(limit > 0 and value > fraction * limit for value, limit in zip(values, limits, strict=True))


def _smooth(average: float, sample: float) -> float:
    return (1 - _SMOOTHING) * average + _SMOOTHING * sample


class LagProbe(Protocol):
    """The SIP endpoint as the monitor sees it (`SipEndpoint` fits)."""

    @property
    def refused_overloaded(self) -> int: ...
    @property
    def refused_full(self) -> int: ...
    @property
    def slots_in_use(self) -> int: ...
    def probe_lag(self) -> tuple[float, int]: ...
    def probe_setup_wait(self) -> float: ...
    def probe_backlog(self) -> int: ...
    def refuse_new_calls(self, retry_after: int | None) -> None: ...


class LoadMonitor:
    """Samples the latencies every `interval` and tells the endpoint to refuse or admit;
    `count_refused` hears how many INVITEs the endpoint refused for overload since the last
    sample, `count_full` how many it refused because its call slots were nearly all held."""

    def __init__(
        self,
        limits: OverloadLimits,
        count_refused: Callable[[int], None] = lambda n: None,
        count_full: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.detector = OverloadDetector(limits)
        self._count_refused = count_refused
        self._count_full = count_full

    @property
    def reading(self) -> LoadReading:
        return self.detector.reading

    @property
    def overloaded(self) -> bool:
        return self.detector.reading.overloaded

    async def run(
        self, endpoint: LagProbe, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        limits = self.detector.limits
        refused, full = endpoint.refused_overloaded, endpoint.refused_full
        task_status.started()
        try:
            while True:
                asked = trio.current_time()
                await trio.sleep(limits.interval)
                now = trio.current_time()
                pj_lag, pj_queue = endpoint.probe_lag()
                self.reading.pj_slots = endpoint.slots_in_use
                was = self.overloaded
                loop_lag, setup_wait = now - asked - limits.interval, endpoint.probe_setup_wait()
                backlog = endpoint.probe_backlog()
                if self.detector.observe(now, loop_lag, pj_lag, pj_queue, setup_wait, backlog) != was:
                    endpoint.refuse_new_calls(limits.retry_after if self.overloaded else None)
                    log.warning(
                        "overload %s: event loop %.0f ms late, SIP thread %.0f ms, %.0f KiB of SIP "
                        "waiting, new calls wait %.0f ms",
                        "on, refusing new calls with 503" if self.overloaded else "over, taking calls again",
                        1000 * self.reading.loop_lag,
                        1000 * self.reading.pj_lag,
                        self.reading.sip_backlog / 1024,
                        1000 * self.reading.setup_wait,
                    )
                if endpoint.refused_overloaded != refused:
                    self._count_refused(endpoint.refused_overloaded - refused)
                    refused = endpoint.refused_overloaded
                if endpoint.refused_full != full:
                    self._count_full(endpoint.refused_full - full)
                    full = endpoint.refused_full
        finally:
            endpoint.refuse_new_calls(None)
