"""While the server is overloaded the pj thread itself answers new INVITEs with 503 and
Retry-After: the call never reaches trio (whose event loop may be the one lagging)."""

from __future__ import annotations

import os
import random
import socket
import time
from pathlib import Path

import pytest
import trio
from sip_support import SippRun, _background, _run, free_udp_port, sipp_binary

from ivr.adapters.sip.pjthread import SipConfig, SipEndpoint, open_sip_endpoint
from ivr.adapters.sip.rcvbuf import SipSockets

pytestmark = pytest.mark.usefixtures("need_sipp")
REFUSED = Path(__file__).parents[2] / "hosting" / "scenarios" / "uac_refused_503.xml"
CALLS = Path(__file__).parent / "scenarios" / "uac_prompt_rtp.xml"


def call(nursery: trio.Nursery, scenario: Path, port: int, workdir: Path) -> SippRun:
    sipp = sipp_binary()
    assert sipp is not None
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(free_udp_port())]
    cmd += ["-mp", str(free_udp_port()), "-m", "1", "-l", "1", "-nostdin", "-s", "service"]
    cmd += ["-timeout", "15s", "-timeout_error", "-trace_err", "-key", "caller", "13900000001"]
    cmd += ["-key", "rtp_port", "9", f"127.0.0.1:{port}"]
    return _background(nursery, _run(cmd, workdir))


async def test_while_refusing_the_pj_thread_answers_503_with_retry_after_and_trio_sees_no_call(
    endpoint: SipEndpoint, tmp_path: Path
) -> None:
    endpoint.refuse_new_calls(7)
    async with trio.open_nursery() as nursery:
        await call(nursery, REFUSED, endpoint.port, tmp_path / "refused").wait_ok()
    assert endpoint.refused_overloaded == 1
    with pytest.raises(trio.WouldBlock):
        endpoint.incoming.receive_nowait()

    endpoint.refuse_new_calls(None)
    async with trio.open_nursery() as nursery:
        taken = call(nursery, CALLS, endpoint.port, tmp_path / "taken")
        with trio.fail_after(10):
            handle = await endpoint.incoming.receive()
        await handle.answer()
        await handle.hangup()
        await taken.wait_ok()
    assert endpoint.refused_overloaded == 1


async def test_the_lag_probe_reports_how_long_a_command_waited_for_the_pj_thread(
    endpoint: SipEndpoint,
) -> None:
    assert endpoint.probe_lag()[0] == 0.0  # the first probe is queued
    await endpoint.active_calls()  # a command queued after it: the probe has run
    lag, queued = endpoint.probe_lag()
    assert 0.0 < lag < 1.0 and queued <= 1
    await endpoint.active_calls()  # that probe has run too

    endpoint.post(lambda: time.sleep(0.3))  # the pj thread is busy for 0.3 s...
    endpoint.probe_lag()  # ...so this probe waits
    await trio.sleep(0.2)
    lag, queued = endpoint.probe_lag()  # still waiting: its wait so far
    assert lag >= 0.2 and queued >= 1
    await endpoint.active_calls()
    lag, _ = endpoint.probe_lag()
    assert lag >= 0.25  # how long it waited in the end


async def test_the_setup_wait_is_the_age_of_the_oldest_call_trio_has_not_taken_up(
    endpoint: SipEndpoint, tmp_path: Path
) -> None:
    assert endpoint.probe_setup_wait() == 0.0  # nobody waits
    async with trio.open_nursery() as nursery:
        taken = call(nursery, CALLS, endpoint.port, tmp_path / "waiting")
        with trio.fail_after(10):
            while endpoint.incoming.statistics().current_buffer_used == 0:  # noqa: ASYNC110 - no event to wait on
                await trio.sleep(0.01)
        await trio.sleep(0.3)  # the call rings, nobody takes it up
        assert 0.3 <= endpoint.probe_setup_wait() < 5.0
        handle = endpoint.incoming.receive_nowait()
        assert endpoint.probe_setup_wait() == 0.0  # taken up: the queue is empty again
        await handle.answer()
        await handle.hangup()
        await taken.wait_ok()


async def test_with_its_call_slots_nearly_all_held_the_pj_thread_answers_503_not_486(tmp_path: Path) -> None:
    """pjsua2 answers 486 Busy Here on its own once its count of calls reaches its limit, so
    the pj thread keeps a reserve by that same count and refuses with 503 and Retry-After
    first (limit 2: the reserve is 1 slot; sipp checks the header); once the calls are over
    the count, as the lag probe reads it, is back to 0."""
    config = SipConfig(port=0, rtp_port=random.randrange(20_000, 60_000, 2), max_calls=2, retry_after=7)
    async with open_sip_endpoint(config) as endpoint, trio.open_nursery() as nursery:
        assert endpoint.max_calls == 2
        held = call(nursery, CALLS, endpoint.port, tmp_path / "held")
        with trio.fail_after(10):
            handle = await endpoint.incoming.receive()  # ringing, holding a slot
        await call(nursery, REFUSED, endpoint.port, tmp_path / "refused").wait_ok()
        assert endpoint.refused_full == 1 and endpoint.refused_overloaded == 0
        await handle.answer()
        await handle.hangup()
        await held.wait_ok()
        with trio.fail_after(5):
            while endpoint.slots_in_use != 0:  # the lag probe reads the count
                endpoint.probe_lag()
                await trio.sleep(0.05)


async def test_the_sip_udp_socket_gets_a_receive_buffer_that_holds_a_burst(endpoint: SipEndpoint) -> None:
    """With pjsip's default (about 208 KiB) the kernel dropped thousands of SIP datagrams
    under churn, among them 200 OKs to our BYEs, each pinning a pjsua2 slot for 32 s. The
    endpoint asks for 8 MiB on its SIP port; CI runs as root, where SO_RCVBUFFORCE passes
    the kernel's cap, so anything less is a regression there."""
    sockets = SipSockets(endpoint.port)
    sizes = sockets.receive_buffers()
    sockets.close()
    assert sizes, "no UDP socket found on the SIP port"
    asked = SipConfig().sip_receive_buffer
    at_least = asked if os.geteuid() == 0 else min(asked, _rmem_max())  # without root: the cap
    assert min(sizes) >= at_least > 256 * 1024, sizes


def _rmem_max() -> int:
    return int(Path("/proc/sys/net/core/rmem_max").read_text())


async def test_the_backlog_probe_counts_the_sip_waiting_while_the_pj_thread_is_busy(
    endpoint: SipEndpoint,
) -> None:
    assert endpoint.probe_backlog() == 0
    endpoint.post(lambda: time.sleep(0.5))  # the pj thread reads nothing for half a second
    await trio.sleep(0.05)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        for _ in range(20):
            peer.sendto(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n\r\n", ("127.0.0.1", endpoint.port))
        assert endpoint.probe_backlog() > 20 * 30  # queued (the kernel counts its own overhead too)
        await endpoint.active_calls()  # the thread is back and has read them
        with trio.fail_after(5):
            while endpoint.probe_backlog():  # noqa: ASYNC110 - the kernel has no event for it
                await trio.sleep(0.01)
