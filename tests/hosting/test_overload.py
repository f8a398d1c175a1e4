"""Overload control without SIP: the detector's decisions from latency samples, and the
monitor driving an endpoint double on trio's mock clock."""

from __future__ import annotations

import time

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st
from trio.testing import MockClock

from ivr.adapters.hosting.config import HostingConfig
from ivr.adapters.hosting.overload import LoadMonitor, OverloadDetector, OverloadLimits
from ivr.adapters.hosting.server import overload_limits

LIMITS = OverloadLimits(loop_lag=0.1, pj_lag=0.2, hold=2.0, retry_after=9, interval=0.05)


def feed(
    detector: OverloadDetector,
    start: float,
    seconds: float,
    loop: float,
    pj: float,
    wait: float = 0.0,
    backlog: int = 0,
) -> float:
    """Samples every 50 ms for `seconds`; returns the time after the last one."""
    now = start
    for _ in range(round(seconds / 0.05)):
        now += 0.05
        detector.observe(now, loop, pj, setup_wait=wait, sip_backlog=backlog)
    return now


def test_a_server_with_little_lag_is_never_overloaded() -> None:
    detector = OverloadDetector(LIMITS)
    feed(detector, 0.0, 10.0, 0.02, 0.05)
    assert not detector.reading.overloaded and detector.reading.episodes == 0


@pytest.mark.parametrize(
    ("loop", "pj", "wait", "backlog"),
    [(0.3, 0.0, 0.0, 0), (0.0, 0.5, 0.0, 0), (0.05, 0.0, 0.8, 0), (0.0, 0.04, 0.0, 2_000_000)],
)
def test_any_measure_past_its_limit_turns_overload_on(
    loop: float, pj: float, wait: float, backlog: int
) -> None:
    detector = OverloadDetector(LIMITS)
    feed(detector, 0.0, 0.5, loop, pj, wait, backlog)
    assert detector.reading.overloaded and detector.reading.episodes == 1


def test_sip_waiting_in_the_kernel_below_its_limit_refuses_nobody() -> None:
    """Bursts of a few hundred KiB came and went at healthy loads (calls arriving in step)."""
    detector = OverloadDetector(LIMITS)
    feed(detector, 0.0, 5.0, 0.01, 0.02, 0.0, 300_000)
    assert not detector.reading.overloaded and detector.reading.peak_sip_backlog > 250_000


def test_new_calls_waiting_to_be_taken_up_keep_overload_on_until_the_queue_is_short() -> None:
    """The loop's lag stays under its limit (each turn takes up only a few calls) while new
    calls ring longer and longer: the wait alone turns overload on, and it stays on while
    the oldest waiting call is past half the limit (the calls refused meanwhile let the
    queue drain)."""
    detector = OverloadDetector(LIMITS)
    now = feed(detector, 0.0, 1.0, 0.07, 0.0, 0.4)
    assert detector.reading.overloaded and detector.reading.peak_setup_wait > LIMITS.setup_wait
    now = feed(detector, now, 5.0, 0.0, 0.0, 0.2)  # shorter, yet above half the limit
    assert detector.reading.overloaded
    feed(detector, now, LIMITS.hold + 0.5, 0.0, 0.0, 0.01)
    assert not detector.reading.overloaded and detector.reading.episodes == 1


def test_one_late_wake_up_does_not_refuse_calls() -> None:
    detector = OverloadDetector(LIMITS)
    now = feed(detector, 0.0, 1.0, 0.01, 0.01)
    detector.observe(now + 0.05, 0.25, 0.01)  # a garbage collection, say
    assert not detector.reading.overloaded


def test_a_spike_on_a_baseline_near_the_limit_refuses_nobody() -> None:
    """The fault review found: under load a single 123 ms sample on top of a lag of about
    95 ms pushed the average past the limit and refused calls for the whole hold."""
    detector = OverloadDetector(OverloadLimits(loop_lag=0.1, pj_lag=0.1, hold=1.0, interval=0.05))
    now = feed(detector, 0.0, 5.0, 0.0, 0.095)
    detector.observe(now + 0.05, 0.0, 0.123)
    assert detector.reading.pj_lag > 0.1  # the average is past the limit for a moment
    feed(detector, now + 0.05, 3.0, 0.0, 0.095)
    assert not detector.reading.overloaded and detector.reading.episodes == 0


def test_one_long_stall_followed_by_normal_samples_refuses_nobody() -> None:
    detector = OverloadDetector(LIMITS)
    now = feed(detector, 0.0, 1.0, 0.01, 0.01)
    detector.observe(now + 2.0, 2.0, 0.01)  # the loop was stuck for two seconds, once
    feed(detector, now + 2.0, 2.0, 0.01, 0.01)
    assert detector.reading.episodes == 0


def test_a_lag_past_its_limit_refuses_calls_once_it_has_lasted_persist_seconds() -> None:
    detector = OverloadDetector(LIMITS)
    now = feed(detector, 0.0, 1.0, 0.01, 0.01)
    turned_on = None
    for i in range(1, 40):
        if detector.observe(now + 0.05 * i, 0.4, 0.0) and turned_on is None:
            turned_on = 0.05 * i
    assert turned_on is not None and LIMITS.persist <= turned_on <= LIMITS.persist + 0.2


def test_overload_lasts_its_hold_after_the_lag_falls_then_ends() -> None:
    detector = OverloadDetector(LIMITS)
    now = feed(detector, 0.0, 1.0, 0.5, 0.0)
    assert detector.reading.overloaded
    now = feed(detector, now, 1.5, 0.0, 0.0)  # recovered, but within the hold
    assert detector.reading.overloaded
    feed(detector, now, 1.0, 0.0, 0.0)
    assert not detector.reading.overloaded and detector.reading.episodes == 1


def test_lags_between_half_and_the_limit_keep_overload_on() -> None:
    detector = OverloadDetector(LIMITS)
    now = feed(detector, 0.0, 1.0, 0.5, 0.0)
    feed(detector, now, 10.0, 0.07, 0.0)  # below the limit, above half of it
    assert detector.reading.overloaded


def test_with_all_limits_0_the_measures_are_taken_but_nothing_is_refused() -> None:
    detector = OverloadDetector(OverloadLimits(loop_lag=0, pj_lag=0, setup_wait=0, sip_backlog=0))
    feed(detector, 0.0, 1.0, 2.0, 2.0, 2.0, 10_000_000)
    assert not detector.reading.overloaded
    reading = detector.reading
    assert reading.peak_loop_lag > 1.0 and reading.peak_pj_lag > 1.0 and reading.peak_setup_wait > 1.0


@given(st.lists(st.tuples(st.floats(0, 3), st.floats(0, 3), st.floats(0, 3)), max_size=300))
def test_overload_never_ends_sooner_than_its_hold(samples: list[tuple[float, float, float]]) -> None:
    detector = OverloadDetector(LIMITS)
    began = None
    for i, (loop, pj, wait) in enumerate(samples):
        now = 0.05 * (i + 1)
        was = detector.reading.overloaded
        on = detector.observe(now, loop, pj, setup_wait=wait)
        if on and not was:
            began = now
        if was and not on:
            assert began is not None and now - began >= LIMITS.hold


class BusyEndpoint:
    """A `LagProbe` whose pj-thread lag the test sets; it records the refusals asked of it."""

    def __init__(self) -> None:
        self.lag = 0.0
        self.wait = 0.0
        self.refused_overloaded = 0
        self.refused_full = 0
        self.slots_in_use = 0
        self.refusals: list[int | None] = []

    def probe_lag(self) -> tuple[float, int]:
        return self.lag, 0

    def probe_setup_wait(self) -> float:
        return self.wait

    def probe_backlog(self) -> int:
        return 0

    def refuse_new_calls(self, retry_after: int | None) -> None:
        self.refusals.append(retry_after)


async def test_the_monitor_refuses_while_the_sip_thread_lags_and_counts_the_refusals(
    autojump_clock: MockClock,
) -> None:
    endpoint, counted, full = BusyEndpoint(), [], []
    monitor = LoadMonitor(LIMITS, counted.append, full.append)
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run, endpoint)
        await trio.sleep(1)
        assert endpoint.refusals == [] and not monitor.overloaded
        endpoint.lag = 0.6
        await trio.sleep(0.5)
        assert endpoint.refusals == [9] and monitor.overloaded
        endpoint.refused_overloaded += 3  # INVITEs turned away by the pj thread
        await trio.sleep(0.1)
        assert counted == [3] and full == []
        endpoint.refused_full += 2  # INVITEs turned away with every call slot held
        await trio.sleep(0.1)
        assert counted == [3] and full == [2]
        endpoint.lag = 0.0
        await trio.sleep(LIMITS.hold + 1)
        assert endpoint.refusals == [9, None] and not monitor.overloaded
        nursery.cancel_scope.cancel()
    assert endpoint.refusals[-1] is None  # a stopped monitor leaves calls admitted


async def test_the_monitor_refuses_while_new_calls_wait_to_be_taken_up(autojump_clock: MockClock) -> None:
    endpoint = BusyEndpoint()
    monitor = LoadMonitor(LIMITS)
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run, endpoint)
        endpoint.wait = 2.0
        await trio.sleep(0.5)
        assert endpoint.refusals == [9] and monitor.reading.setup_wait > LIMITS.setup_wait
        endpoint.wait = 0.0
        await trio.sleep(LIMITS.hold + 1)
        assert endpoint.refusals == [9, None]
        nursery.cancel_scope.cancel()


async def test_the_monitor_measures_how_late_the_event_loop_runs() -> None:
    monitor = LoadMonitor(OverloadLimits(loop_lag=0.1, pj_lag=0, interval=0.01))
    endpoint = BusyEndpoint()
    async with trio.open_nursery() as nursery:
        await nursery.start(monitor.run, endpoint)
        for _ in range(8):
            time.sleep(0.2)  # a call task hogging the loop  # noqa: ASYNC251
            await trio.lowlevel.checkpoint()
        overloaded = monitor.overloaded
        nursery.cancel_scope.cancel()
    assert overloaded and monitor.reading.peak_loop_lag > 0.1
    assert endpoint.refusals[0] == 10


def test_no_overload_control_turns_every_limit_off_and_the_defaults_turn_them_on() -> None:
    assert overload_limits(HostingConfig(overload_control=False)).enabled is False
    on = overload_limits(HostingConfig())
    assert on.measures == (0.1, 0.1, 0.25, 512 * 1024)
