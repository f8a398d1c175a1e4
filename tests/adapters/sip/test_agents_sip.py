"""`SipAgentConnector` against a sipp "agent phone" (UAS) on 127.0.0.1: an answered ring is
bridged with audio both ways and recorded (both parties, on the caller's record); 486 is
"busy"; a phone that only rings is CANCELled after the ring timeout ("no_answer")."""

from __future__ import annotations

import math
import wave
from array import array
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from sip_support import (
    RtpPeer,
    SippRun,
    _background,
    _run,
    channels,
    free_media_port,
    free_udp_port,
    open_rtp_peer,
    sipp_binary,
    start_sipp,
    tone_frames,
)

from ivr.adapters.sip.agents import SipAgentConnector, screen_headers
from ivr.adapters.sip.leg import SipCallLeg
from ivr.adapters.sip.pjthread import SipEndpoint
from ivr.adapters.speech.espeak import RenderedPrompt
from ivr.runtime.ports import AgentEndpoint
from ivr.runtime.testing import MemoryCallRecords

pytestmark = pytest.mark.usefixtures("need_sipp")
SCREEN = {"queue": "general", "caller": "13800138000", "customer": "Li Wei", "pin": "1234"}

_REPLY_HEADERS = """
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:8001@[local_ip]:[local_port]>"""
ANSWERS = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="agent phone answers">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="customer=Li%20Wei" search_in="hdr" header="X-IVR-Screen:"
            check_it="true" assign_to="screen"/>
    </action>
  </recv>
  <send><![CDATA[
      SIP/2.0 180 Ringing{_REPLY_HEADERS}
      Content-Length: 0
  ]]></send>
  <pause milliseconds="300"/>
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK{_REPLY_HEADERS}
      X-Seen: [$screen]
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=agent 1 1 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio [rtp_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=ptime:20
      a=sendrecv
  ]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK{_REPLY_HEADERS}
      Content-Length: 0
  ]]></send>
</scenario>
"""
BUSY = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="agent phone busy">
  <recv request="INVITE"/>
  <send><![CDATA[
      SIP/2.0 486 Busy Here{_REPLY_HEADERS}
      Content-Length: 0
  ]]></send>
  <recv request="ACK"/>
</scenario>
"""
RINGS_ONLY = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="agent phone rings until cancelled">
  <recv request="INVITE"/>
  <send><![CDATA[
      SIP/2.0 180 Ringing{_REPLY_HEADERS}
      Content-Length: 0
  ]]></send>
  <recv request="CANCEL"/>
  <send><![CDATA[
      SIP/2.0 200 OK{_REPLY_HEADERS}
      Content-Length: 0
  ]]></send>
  <send><![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [cseq] INVITE
      Content-Length: 0
  ]]></send>
  <recv request="ACK"/>
</scenario>
"""


class NoSpeech:
    async def render(self, text: str, language: str) -> RenderedPrompt:
        raise AssertionError("no prompt is spoken in these tests")


def start_agent_phone(
    nursery: trio.Nursery, scenario: str, workdir: Path, rtp_port: int
) -> tuple[SippRun, int]:
    path = workdir / "agent.xml"
    path.write_text(scenario)
    port, sipp = free_udp_port(), sipp_binary()
    assert sipp is not None
    cmd = [sipp, "-sf", str(path), "-i", "127.0.0.1", "-p", str(port), "-mp", str(free_media_port())]
    cmd += ["-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error", "-trace_err"]
    cmd += ["-key", "rtp_port", str(rtp_port)]
    return _background(nursery, _run(cmd, workdir)), port


async def caller_leg(
    nursery: trio.Nursery, endpoint: SipEndpoint, workdir: Path
) -> tuple[SipCallLeg, RtpPeer, SippRun]:
    peer = await open_rtp_peer()
    nursery.start_soon(peer.receive_forever)
    sipp = start_sipp(
        nursery, "uac_prompt_rtp.xml", endpoint.port, workdir, keys={"rtp_port": str(peer.port)}
    )
    with trio.fail_after(10):
        handle = await endpoint.incoming.receive()
    leg = SipCallLeg(handle, NoSpeech(), endpoint=endpoint)
    await leg.answer()
    return leg, peer, sipp


def wav_rms(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == 8000 and w.getsampwidth() == 2
        samples = array("h", w.readframes(w.getnframes()))
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def test_screen_headers_name_the_caller_are_encoded_and_keep_no_secret() -> None:
    headers = screen_headers("c@1", "13800138000", {**SCREEN, "card": {"pin": "9"}})
    assert headers["X-IVR-Call"] == "c%401" and headers["X-IVR-Queue"] == "general"
    assert headers["X-IVR-Caller"] == "13800138000"
    assert headers["P-Asserted-Identity"] == '"Li Wei" <sip:13800138000@127.0.0.1>'
    assert "customer=Li%20Wei" in headers["X-IVR-Screen"] and "1234" not in str(headers)
    assert "\r" not in "".join(headers.values()) and "\n" not in "".join(headers.values())
    hostile = screen_headers("c", '1"\r\nBYE <x>', {"customer": 'A"\r\nB'})
    assert "\r" not in str(hostile) and '"A"' not in str(hostile)


async def test_an_answering_agent_is_bridged_with_audio_both_ways_and_recorded(
    endpoint: SipEndpoint, tmp_path: Path
) -> None:
    records = MemoryCallRecords()
    connector = SipAgentConnector(endpoint, records=records, recordings_dir=tmp_path / "rec")
    agent_peer = await open_rtp_peer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(agent_peer.receive_forever)
        phone, port = start_agent_phone(nursery, ANSWERS, tmp_path, agent_peer.port)
        await trio.sleep(0.3)  # let sipp bind
        leg, caller_peer, caller = await caller_leg(nursery, endpoint, tmp_path)
        agent = AgentEndpoint("8001", f"sip:8001@127.0.0.1:{port}")
        assert await connector.ring(leg, agent, ring_timeout=Decimal(5), screen=SCREEN) == "answered"
        bridged = trio.Event()

        async def bridge() -> None:
            await connector.bridge(leg, agent)
            bridged.set()

        nursery.start_soon(bridge)
        with trio.fail_after(10):
            await agent_peer.first_packet.wait()
        start = trio.current_time()
        async with trio.open_nursery() as talk:
            talk.start_soon(lambda: caller_peer.send_tone(1.5, frequency=700))
            talk.start_soon(lambda: agent_peer.send_tone(1.5, frequency=1100))
        await connector.hangup(leg.call_id)  # the desktop hangs up
        with trio.fail_after(10):
            await bridged.wait()
        await phone.wait_ok()
        assert not leg.handle.ended.is_set()  # the caller goes back to the flow
        await leg.hangup()
        await caller.wait_ok()
        nursery.cancel_scope.cancel()
    assert agent_peer.voiced(since=start) > 25, "the caller's voice did not reach the agent"
    assert caller_peer.voiced(since=start) > 25, "the agent's voice did not reach the caller"
    [stored] = records.recordings
    assert stored.call_id == leg.call_id and stored.metadata["agent"] == "8001"
    assert stored.metadata["channels"] == 2
    assert stored.recording.path is not None and wav_rms(Path(stored.recording.path)) > 300
    assert await endpoint.active_calls() == 0


CALLER, AGENT, CALLER_SECRET, AGENT_SECRET = 700.0, 1100.0, 500.0, 1400.0  # Hz


async def test_an_agent_conversation_is_recorded_caller_left_agent_right_and_secrets_silent(
    endpoint: SipEndpoint, tmp_path: Path
) -> None:
    records = MemoryCallRecords()
    connector = SipAgentConnector(endpoint, records=records, recordings_dir=tmp_path / "rec")
    agent_peer = await open_rtp_peer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(agent_peer.receive_forever)
        phone, port = start_agent_phone(nursery, ANSWERS, tmp_path, agent_peer.port)
        await trio.sleep(0.3)
        leg, caller_peer, caller = await caller_leg(nursery, endpoint, tmp_path)
        agent = AgentEndpoint("8001", f"sip:8001@127.0.0.1:{port}")
        assert await connector.ring(leg, agent, ring_timeout=Decimal(5), screen=SCREEN) == "answered"
        nursery.start_soon(connector.bridge, leg, agent)
        with trio.fail_after(10):
            await agent_peer.first_packet.wait()
        await trio.sleep(0.3)
        caller_spoke = trio.current_time()
        await caller_peer.send_tone(1.0, frequency=CALLER)
        await trio.sleep(0.5)
        agent_spoke = trio.current_time()
        await agent_peer.send_tone(1.0, frequency=AGENT)
        await trio.sleep(0.3)
        leg.set_secret_entry(True)  # the caller keys a PIN: neither channel may keep a sound
        await trio.sleep(0.1)
        async with trio.open_nursery() as both:
            both.start_soon(lambda: caller_peer.send_tone(1.0, frequency=CALLER_SECRET))
            both.start_soon(lambda: agent_peer.send_tone(1.0, frequency=AGENT_SECRET))
        await trio.sleep(0.3)
        leg.set_secret_entry(False)
        await trio.sleep(0.3)
        await connector.hangup(leg.call_id)
        await phone.wait_ok()
        await leg.hangup()
        await caller.wait_ok()
        nursery.cancel_scope.cancel()
    [stored] = records.recordings
    assert stored.metadata["channels"] == 2 and stored.metadata["left"] == "caller"
    assert stored.recording.path is not None
    path = Path(stored.recording.path)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "the mono tracks are merged away"
    left, right = channels(path)
    heard = {(side, f): tone_frames(samples, f) for side, samples in (("left", left), ("right", right))
             for f in (CALLER, AGENT, CALLER_SECRET, AGENT_SECRET)}  # fmt: skip
    assert len(heard["left", CALLER]) > 35 and len(heard["right", AGENT]) > 35
    assert len(heard["left", AGENT]) < 3, "the agent is on the right channel only"
    assert len(heard["right", CALLER]) < 3, "the caller is on the left channel only"
    for side in ("left", "right"):
        assert len(heard[side, CALLER_SECRET]) < 3 and len(heard[side, AGENT_SECRET]) < 3, "secret span"
    offset = (heard["right", AGENT][0] - heard["left", CALLER][0]) * 0.02
    assert abs(offset - (agent_spoke - caller_spoke)) < 0.1, "the channels keep one timeline"


@pytest.mark.parametrize(("scenario", "answer"), [(BUSY, "busy"), (RINGS_ONLY, "no_answer")])
async def test_a_busy_or_unanswered_phone(
    endpoint: SipEndpoint, tmp_path: Path, scenario: str, answer: str
) -> None:
    connector = SipAgentConnector(endpoint)
    async with trio.open_nursery() as nursery:
        phone, port = start_agent_phone(nursery, scenario, tmp_path, free_udp_port())
        await trio.sleep(0.3)
        leg, _peer, caller = await caller_leg(nursery, endpoint, tmp_path)
        agent = AgentEndpoint("8001", f"sip:8001@127.0.0.1:{port}")
        assert await connector.ring(leg, agent, ring_timeout=Decimal(1), screen=SCREEN) == answer
        await phone.wait_ok()
        assert not leg.handle.ended.is_set()  # the caller is still there, back in the queue
        await leg.hangup()
        await caller.wait_ok()
        nursery.cancel_scope.cancel()


async def test_the_caller_hanging_up_hangs_up_the_agent_and_ends_the_bridge(
    endpoint: SipEndpoint, tmp_path: Path
) -> None:
    connector = SipAgentConnector(endpoint, recordings_dir=tmp_path / "rec")
    async with trio.open_nursery() as nursery:
        phone, port = start_agent_phone(nursery, ANSWERS, tmp_path, free_udp_port())
        await trio.sleep(0.3)
        peer = await open_rtp_peer()
        nursery.start_soon(peer.receive_forever)
        keys = {"rtp_port": str(peer.port)}
        caller = start_sipp(nursery, "uac_bye_mid_prompt.xml", endpoint.port, tmp_path, keys=keys)
        with trio.fail_after(10):
            leg = SipCallLeg(await endpoint.incoming.receive(), NoSpeech(), endpoint=endpoint)
        await leg.answer()
        agent = AgentEndpoint("8001", f"sip:8001@127.0.0.1:{port}")
        assert await connector.ring(leg, agent, ring_timeout=Decimal(5), screen=SCREEN) == "answered"
        with trio.fail_after(10):
            await connector.bridge(leg, agent)  # returns normally: the caller's BYE is the usual end
        await caller.wait_ok()
        await phone.wait_ok()  # the agent got its BYE from us
        nursery.cancel_scope.cancel()
    assert [r.ended_by for r in connector.recordings] == ["hangup"]
    assert await endpoint.active_calls() == 0
