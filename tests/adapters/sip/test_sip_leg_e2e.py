"""End to end: sipp calls the pjsua2 endpoint on 127.0.0.1; a small trio program answers
with `SipCallLeg`, plays a TTS prompt, reads digits and hangs up, as the runtime would."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import trio
from sip_support import RtpPeer, SippRun, free_udp_port, open_rtp_peer, start_sipp, start_sipp_agent

from ivr.adapters.sip.leg import SipCallLeg
from ivr.adapters.sip.limits import compiled_max_calls
from ivr.adapters.sip.pjthread import CallHandle, SipEndpoint
from ivr.adapters.speech.espeak import EspeakRenderer
from ivr.runtime.ports import CallEnded, SpokenPrompt

pytestmark = pytest.mark.usefixtures("need_sipp")

WELCOME = SpokenPrompt("Welcome. Please key your two digit branch number.", "en")
LONG = SpokenPrompt(
    "This is a long announcement about opening hours, fees, branches, and the many ways "
    "to reach us, which goes on for quite a few seconds so the caller can hang up in it.",
    "en",
)


async def _caller(
    nursery: trio.Nursery, scenario: str, endpoint: SipEndpoint, tmp_path: Path
) -> tuple[RtpPeer, SippRun]:
    """Start sipp and the RTP peer its SDP points the IVR's audio at."""
    peer = await open_rtp_peer()
    nursery.start_soon(peer.receive_forever)
    return peer, start_sipp(nursery, scenario, endpoint.port, tmp_path, keys={"rtp_port": str(peer.port)})


async def _next_call(endpoint: SipEndpoint, sipp: SippRun) -> CallHandle:
    """The next incoming call; fails with sipp's output if sipp gave up first."""
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:

            async def sipp_gave_up() -> None:
                await sipp.done.wait()
                pytest.fail(f"sipp ended before its call arrived ({sipp.returncode}):\n{sipp.output}")

            nursery.start_soon(sipp_gave_up)
            handle = await endpoint.incoming.receive()
            nursery.cancel_scope.cancel()
    return handle


async def test_answers_plays_prompt_reads_two_rfc4733_digits_and_hangs_up(
    endpoint: SipEndpoint, renderer: EspeakRenderer, tmp_path: Path
) -> None:
    assert endpoint.max_calls == compiled_max_calls()
    async with trio.open_nursery() as nursery:
        peer, sipp = await _caller(nursery, "uac_prompt_rtp.xml", endpoint, tmp_path)
        handle = await _next_call(endpoint, sipp)
        leg = SipCallLeg(handle, renderer)
        assert leg.caller == "13800138000"
        assert leg.dialed == "service"
        await leg.answer()
        rendered = await renderer.render(WELCOME.text, WELCOME.language)
        start = trio.current_time()
        cut = await leg.play(WELCOME, barge_in=False)
        played = trio.current_time() - start
        assert not cut
        assert rendered.duration <= played < rendered.duration + 0.5

        nursery.start_soon(peer.send_dtmf, "37")
        with trio.fail_after(5):
            digits = [await leg.read_digit(Decimal(3)), await leg.read_digit(Decimal(3))]
        assert digits == ["3", "7"]
        sent, _received = await handle.stream_stats()
        await leg.hangup()
        await sipp.wait_ok()
        nursery.cancel_scope.cancel()

    assert handle.ended.is_set()
    # 20 ms packets: the prompt alone is duration/0.02 of them, and the caller got them all.
    expected = rendered.duration / 0.02
    prompt_packets = peer.count(start, start + rendered.duration)
    assert prompt_packets >= 0.9 * expected, (prompt_packets, expected)
    assert peer.count() >= 0.98 * sent > 0
    # ...and they carried the spoken prompt: speech in the prompt's span, silence after it.
    assert peer.voiced(start, start + rendered.duration) >= 0.4 * expected
    assert peer.voiced(start + rendered.duration + 0.3) == 0
    assert await endpoint.active_calls() == 0


async def test_a_digit_during_a_prompt_barges_in_and_stays_buffered(
    endpoint: SipEndpoint, renderer: EspeakRenderer, tmp_path: Path
) -> None:
    async with trio.open_nursery() as nursery:
        peer, sipp = await _caller(nursery, "uac_prompt_rtp.xml", endpoint, tmp_path)
        leg = SipCallLeg(await _next_call(endpoint, sipp), renderer)
        await leg.answer()
        rendered = await renderer.render(LONG.text, LONG.language)
        nursery.start_soon(peer.send_dtmf, "5")
        start = trio.current_time()
        assert await leg.play(LONG, barge_in=True) is True
        assert trio.current_time() - start < 2.0 < rendered.duration
        assert await leg.read_digit(Decimal(0)) == "5"
        assert await leg.read_digit(Decimal("0.2")) is None
        await leg.hangup()
        await sipp.wait_ok()
        nursery.cancel_scope.cancel()


async def test_sip_info_digits_are_read_like_rfc4733_ones(
    endpoint: SipEndpoint, renderer: EspeakRenderer, tmp_path: Path
) -> None:
    async with trio.open_nursery() as nursery:
        _peer, sipp = await _caller(nursery, "uac_info_dtmf.xml", endpoint, tmp_path)
        leg = SipCallLeg(await _next_call(endpoint, sipp), renderer)
        await leg.answer()
        await leg.play(WELCOME, barge_in=True)
        with trio.fail_after(5):
            digits = [await leg.read_digit(Decimal(3)), await leg.read_digit(Decimal(3))]
        assert digits == ["4", "2"]
        await leg.hangup()
        await sipp.wait_ok()
        nursery.cancel_scope.cancel()


async def test_cancel_before_answer_ends_the_call_and_answer_raises_call_ended(
    endpoint: SipEndpoint, renderer: EspeakRenderer, tmp_path: Path
) -> None:
    async with trio.open_nursery() as nursery:
        _peer, sipp = await _caller(nursery, "uac_cancel.xml", endpoint, tmp_path)
        handle = await _next_call(endpoint, sipp)
        leg = SipCallLeg(handle, renderer)
        with trio.fail_after(5):
            await handle.ended.wait()
        assert handle.end_status == 487
        with pytest.raises(CallEnded):
            await leg.answer()
        with pytest.raises(CallEnded):
            await leg.play(WELCOME, barge_in=False)
        await leg.hangup()  # idempotent: no error once the call is gone
        await sipp.wait_ok()
        nursery.cancel_scope.cancel()
    assert await endpoint.active_calls() == 0


async def test_caller_hangup_mid_prompt_raises_call_ended_promptly(
    endpoint: SipEndpoint, renderer: EspeakRenderer, tmp_path: Path
) -> None:
    async with trio.open_nursery() as nursery:
        _peer, sipp = await _caller(nursery, "uac_bye_mid_prompt.xml", endpoint, tmp_path)
        leg = SipCallLeg(await _next_call(endpoint, sipp), renderer)
        rendered = await renderer.render(LONG.text, LONG.language)
        assert rendered.duration > 5
        await leg.answer()
        start = trio.current_time()
        with pytest.raises(CallEnded):
            await leg.play(LONG, barge_in=True)
        # sipp sends BYE 1 s after its ACK; allow scheduling slack, far below the prompt.
        assert trio.current_time() - start < 1.8
        with pytest.raises(CallEnded):
            await leg.read_digit(Decimal(1))
        with trio.fail_after(2):
            await leg.wait_ended()  # HangupWatch: the caller ended it
        await sipp.wait_ok()
        nursery.cancel_scope.cancel()
    assert await endpoint.active_calls() == 0


async def test_bridge_transfer_connects_an_agent_and_hangs_it_up_when_the_caller_leaves(
    endpoint: SipEndpoint, renderer: EspeakRenderer, tmp_path: Path
) -> None:
    agent_port = free_udp_port()
    async with trio.open_nursery() as nursery:
        agent = start_sipp_agent(nursery, agent_port, tmp_path)
        await trio.sleep(0.3)  # let the agent bind its port
        _peer, sipp = await _caller(nursery, "uac_bye_mid_prompt.xml", endpoint, tmp_path)
        leg = SipCallLeg(await _next_call(endpoint, sipp), renderer, endpoint=endpoint)
        await leg.answer()
        assert await endpoint.active_calls() == 1
        with pytest.raises(CallEnded):  # the caller hangs up 1 s in, while bridged
            await leg.transfer(f"sip:agent@127.0.0.1:{agent_port}", mode="bridge", timeout=Decimal(5))
        await sipp.wait_ok()
        await agent.wait_ok()  # the agent got its BYE from us
        nursery.cancel_scope.cancel()
    assert await endpoint.active_calls() == 0
