"""A key by SIP INFO and a key by RFC 4733 are heard equally soon: from the key leaving the
caller to the next prompt's first sound on the caller's RTP.

The caller is sipp (its INFO requests, timed by sipp's own message log) or the test's RTP
peer (RFC 4733 events). The IVR side is a `SipCallLeg` doing what a menu does: a prompt
with barge-in (here silence), then on the key the next prompt (a tone). The endpoint is
given a 1 s idle poll on purpose: pjsua2 hands the media clock's digits to the pj thread
only at its next turn, so without a short turn while calls are up an RFC 4733 key would
wait up to that second while a SIP INFO key (SIP traffic wakes the thread) would not.
"""

from __future__ import annotations

import re
import statistics
import time
import wave
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from sip_support import (
    RtpPeer,
    SippRun,
    _background,
    _run,
    free_udp_port,
    open_rtp_peer,
    rms,
    sipp_binary,
    start_sipp,
)

from ivr.adapters.sip.leg import SipCallLeg
from ivr.adapters.sip.pjthread import SipConfig, SipEndpoint, open_sip_endpoint
from ivr.adapters.speech.espeak import RenderedPrompt
from ivr.adapters.speech.wavfile import write_tone
from ivr.runtime.ports import SpokenPrompt

pytestmark = [pytest.mark.usefixtures("need_sipp"), pytest.mark.alone]
KEYS = 5
KEY_EVERY = 1.2  # seconds between keys: the tone (0.3 s) is over before the next key
_SENT = re.compile(r"-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n\w+ message sent[^\n]*\n\n\s*INFO ")


class NoSpeech:
    async def render(self, text: str, language: str) -> RenderedPrompt:
        raise AssertionError("these prompts are audio files")


@pytest.fixture
async def slow_polling_endpoint() -> AsyncIterator[SipEndpoint]:
    async with open_sip_endpoint(SipConfig(port=0, poll_ms=1000)) as ep:
        yield ep


def _prompts(folder: Path) -> tuple[SpokenPrompt, SpokenPrompt]:
    silence, tone = folder / "silence.wav", folder / "tone.wav"
    with wave.open(str(silence), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(2 * 8000 * 30))
    write_tone(tone, 600.0, 0.3, level=0.5)
    return SpokenPrompt("", "", str(silence)), SpokenPrompt("", "", str(tone))


def info_caller_scenario(keys: int, every_ms: int) -> str:
    """sipp: call, key `keys` times by SIP INFO `every_ms` apart, wait for the IVR's BYE."""
    path = Path(__file__).parent / "scenarios" / "uac_info_dtmf.xml"
    text = path.read_text()
    head = text[: text.index("  <pause")]
    bye = text[text.index('  <recv request="BYE"') :]
    infos = "".join(_info(cseq, every_ms) for cseq in range(2, keys + 2))
    return head + infos + bye


def _info(cseq: int, pause_ms: int) -> str:
    return f"""  <pause milliseconds="{pause_ms}"/>
  <send retrans="500">
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:13800138000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} INFO
      Contact: <sip:13800138000@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=5
      Duration=160
    ]]>
  </send>
  <recv response="200"/>
"""


async def answer_keys(leg: SipCallLeg, wait: SpokenPrompt, next_prompt: SpokenPrompt) -> list[str]:
    """A menu's rhythm: wait with barge-in; on each key play the next prompt at once."""
    await leg.answer()
    keys = []
    for _ in range(KEYS):
        assert await leg.play(wait, barge_in=True), "no key came"
        keys.append(await leg.read_digit(Decimal(0)) or "")
        await leg.play(next_prompt, barge_in=False)
    await leg.hangup()
    return keys


def latencies(peer: RtpPeer, keys_at: list[float]) -> list[float]:
    """Per key (wall clock), the seconds until the first sound the IVR sent after it."""
    offset = time.time() - trio.current_time()
    sounds = [t + offset for t, pt, payload in peer.packets if pt == 0 and rms(payload) > 300]
    return [min(s for s in sounds if s > at) - at for at in keys_at]


async def test_keys_by_sip_info_and_by_rfc4733_bring_the_next_prompt_equally_soon(
    slow_polling_endpoint: SipEndpoint, tmp_path: Path
) -> None:
    endpoint = slow_polling_endpoint
    wait, next_prompt = _prompts(tmp_path)

    # SIP INFO: sipp keys; its message log says when each INFO left.
    scenario = tmp_path / "uac_info_keys.xml"
    scenario.write_text(info_caller_scenario(KEYS, int(KEY_EVERY * 1000)))
    info_peer = await open_rtp_peer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(info_peer.receive_forever)
        sipp = _start_info_caller(nursery, scenario, endpoint.port, tmp_path / "info", info_peer.port)
        with trio.fail_after(10):
            leg = SipCallLeg(await endpoint.incoming.receive(), NoSpeech())
        info_keys = await answer_keys(leg, wait, next_prompt)
        await sipp.wait_ok(timeout=30)
        nursery.cancel_scope.cancel()
    log = next((tmp_path / "info").glob("*_messages.log")).read_text()
    info_sent = [datetime.strptime(m, "%Y-%m-%d %H:%M:%S.%f").timestamp() for m in _SENT.findall(log)]
    info = latencies(info_peer, info_sent)

    # RFC 4733: the test's RTP peer keys, the same way apart.
    (tmp_path / "rfc").mkdir()
    rfc_peer = await open_rtp_peer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rfc_peer.receive_forever)
        keys = {"rtp_port": str(rfc_peer.port)}
        sipp = start_sipp(nursery, "uac_prompt_rtp.xml", endpoint.port, tmp_path / "rfc", keys=keys)
        with trio.fail_after(10):
            leg = SipCallLeg(await endpoint.incoming.receive(), NoSpeech())
        rfc_sent: list[float] = []

        async def key_by_rfc4733() -> None:
            await rfc_peer.first_packet.wait()
            for _ in range(KEYS):
                await trio.sleep(KEY_EVERY)
                rfc_sent.append(time.time())
                await rfc_peer.send_dtmf("5", gap=0)

        nursery.start_soon(key_by_rfc4733)
        rfc_keys = await answer_keys(leg, wait, next_prompt)
        await sipp.wait_ok(timeout=30)
        nursery.cancel_scope.cancel()
    rfc = latencies(rfc_peer, rfc_sent)

    assert info_keys == rfc_keys == ["5"] * KEYS
    summary = f"INFO {[round(x, 3) for x in info]} s, RFC 4733 {[round(x, 3) for x in rfc]} s"
    print(summary)
    info_median, rfc_median = statistics.median(info), statistics.median(rfc)
    assert info_median < 0.25 and rfc_median < 0.25, summary
    assert abs(info_median - rfc_median) < 0.05, summary


def _start_info_caller(
    nursery: trio.Nursery, scenario: Path, ivr_port: int, workdir: Path, rtp: int
) -> SippRun:
    sipp = sipp_binary()
    assert sipp is not None
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(free_udp_port())]
    cmd += ["-mp", str(free_udp_port()), "-m", "1", "-l", "1", "-nostdin", "-s", "service"]
    cmd += ["-timeout", "30s", "-timeout_error", "-trace_msg", "-key", "rtp_port", str(rtp)]
    cmd.append(f"127.0.0.1:{ivr_port}")
    return _background(nursery, _run(cmd, workdir))
