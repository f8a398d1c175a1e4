"""Cancelling a task that waits on the pj thread: a command not yet started never runs; one
that already ran is undone (a dialled call is CANCELled), so no phone rings for nobody.

The pj thread is held on a `threading.Event` so that the moment of cancellation is exact:
either before the queued dial runs, or after it ran but before trio heard the result.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import trio
import trio.testing
from sip_support import SCENARIOS, SippRun, _background, _run, free_udp_port, sipp_binary, start_sipp

from ivr.adapters.sip.agents import SipAgentConnector
from ivr.adapters.sip.leg import SipCallLeg
from ivr.adapters.sip.pjthread import SipEndpoint
from ivr.adapters.sip.pjtrunks import TrunkSettings, open_trunks
from ivr.adapters.speech.espeak import RenderedPrompt
from ivr.runtime.ports import AgentEndpoint

pytestmark = pytest.mark.usefixtures("need_sipp")


@contextmanager
def pj_thread_held(endpoint: SipEndpoint) -> Iterator[threading.Event]:
    """Block the pj thread until the yielded event is set (or 10 s pass, on failure)."""
    release, holding = threading.Event(), threading.Event()

    def hold() -> None:
        holding.set()
        release.wait(10)

    endpoint.post(hold)
    assert holding.wait(5), "the pj thread did not take the holding job"
    try:
        yield release
    finally:
        release.set()


def start_ringing_phone(nursery: trio.Nursery, workdir: Path) -> tuple[SippRun, int]:
    """A sipp phone that rings and succeeds only if the INVITE is CANCELled."""
    port, sipp = free_udp_port(), sipp_binary()
    assert sipp is not None
    cmd = [sipp, "-sf", str(SCENARIOS / "uas_rings_until_cancel.xml"), "-i", "127.0.0.1"]
    cmd += ["-p", str(port), "-mp", str(free_udp_port()), "-m", "1", "-nostdin"]
    cmd += ["-timeout", "15s", "-timeout_error", "-trace_err"]
    return _background(nursery, _run(cmd, workdir)), port


async def wait_no_calls(endpoint: SipEndpoint) -> None:
    with trio.fail_after(10):
        for _ in range(1000):
            if not await endpoint.active_calls():
                return
            await trio.sleep(0.05)


async def test_a_dial_cancelled_before_the_pj_thread_takes_it_is_never_placed(
    endpoint: SipEndpoint,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind(("127.0.0.1", 0))
        phone.setblocking(False)
        uri = f"sip:8001@127.0.0.1:{phone.getsockname()[1]}"
        with pj_thread_held(endpoint):
            with trio.move_on_after(0.1) as waited:
                await endpoint.make_call(uri)
            assert waited.cancelled_caught
        # Queued behind the dial: it answers only after the dial job ran (or was skipped).
        assert await endpoint.active_calls() == 0
        with pytest.raises(BlockingIOError):
            phone.recv(4096)  # no INVITE ever reached the phone


async def test_a_dial_whose_task_is_cancelled_after_it_was_placed_is_cancelled_on_the_wire(
    endpoint: SipEndpoint, tmp_path: Path
) -> None:
    async with trio.open_nursery() as nursery:
        phone, port = start_ringing_phone(nursery, tmp_path)
        await trio.sleep(0.3)  # let sipp bind
        dial = trio.CancelScope()

        async def dial_the_phone() -> None:
            with dial:
                await endpoint.make_call(f"sip:8001@127.0.0.1:{port}")

        with pj_thread_held(endpoint) as release:
            nursery.start_soon(dial_the_phone)
            await trio.testing.wait_all_tasks_blocked()  # the dial is queued
            dialled = threading.Event()
            endpoint.post(dialled.set)  # runs right after the dial job
            release.set()
            # Block trio itself until the pj thread has placed the call: the reply is then
            # on its way to trio, and the cancel below arrives first.
            assert dialled.wait(5)
            dial.cancel()
        await phone.wait_ok()  # the phone was CANCELled, not left ringing
        await wait_no_calls(endpoint)


async def test_a_trunk_dial_whose_task_is_cancelled_after_it_was_placed_is_cancelled_on_the_wire(
    endpoint: SipEndpoint, tmp_path: Path
) -> None:
    """As above, for an outbound call through a trunk (a campaign attempt cancelled)."""
    async with trio.open_nursery() as nursery:
        phone, port = start_ringing_phone(nursery, tmp_path)
        await trio.sleep(0.3)  # let sipp bind
        async with open_trunks(endpoint, [TrunkSettings("carrier", f"127.0.0.1:{port}")]) as trunks:
            dial = trio.CancelScope()

            async def dial_the_phone() -> None:
                with dial:
                    await trunks.dial("carrier", "8001")

            with pj_thread_held(endpoint) as release:
                nursery.start_soon(dial_the_phone)
                await trio.testing.wait_all_tasks_blocked()  # the dial is queued
                dialled = threading.Event()
                endpoint.post(dialled.set)  # runs right after the dial job
                release.set()
                assert dialled.wait(5)
                dial.cancel()
            await phone.wait_ok()  # the phone was CANCELled, not left ringing
            await wait_no_calls(endpoint)


class NoSpeech:
    async def render(self, text: str, language: str) -> RenderedPrompt:
        raise AssertionError("no prompt is spoken in these tests")


async def test_an_agent_ring_cancelled_while_dialling_leaves_no_conversation_and_no_ringing_phone(
    endpoint: SipEndpoint, tmp_path: Path
) -> None:
    connector = SipAgentConnector(endpoint)
    async with trio.open_nursery() as nursery:
        caller = start_sipp(nursery, "uac_prompt_rtp.xml", endpoint.port, tmp_path, keys={"rtp_port": "9"})
        with trio.fail_after(10):
            leg = SipCallLeg(await endpoint.incoming.receive(), NoSpeech(), endpoint=endpoint)
        await leg.answer()
        agent = AgentEndpoint("8001", f"sip:8001@127.0.0.1:{free_udp_port()}")
        with pj_thread_held(endpoint):
            with trio.move_on_after(0.1) as waited:
                await connector.ring(leg, agent, ring_timeout=Decimal(5), screen={"queue": "general"})
            assert waited.cancelled_caught
        assert leg.call_id not in connector.conversations.declined  # no ring left open
        assert await endpoint.active_calls() == 1  # the caller only: no agent phone rings
        await leg.hangup()
        await caller.wait_ok()
    await wait_no_calls(endpoint)
