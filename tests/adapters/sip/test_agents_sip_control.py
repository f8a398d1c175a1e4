"""Call control in pjsua2's conference bridge, with sipp phones and the tests' own RTP peers
on 127.0.0.1: hold plays music to the caller and cuts the caller off from the agent; mute
silences the agent; the keypad sends RFC 4733 tones; a consultation rings a second phone with
the caller's identity, a conference joins all three, and the first agent's leaving hands the
caller over. Each step is checked by listening at each party's RTP peer."""

from __future__ import annotations

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
    hears,
    open_rtp_peer,
    sipp_binary,
    start_sipp,
    tones,
)

from ivr.adapters.cti.control import Change, Dial
from ivr.adapters.sip.agents import SipAgentConnector
from ivr.adapters.sip.leg import SipCallLeg
from ivr.adapters.sip.pjthread import SipEndpoint
from ivr.adapters.speech.espeak import RenderedPrompt
from ivr.adapters.speech.wavfile import write_tone
from ivr.runtime.ports import AgentEndpoint

pytestmark = [pytest.mark.usefixtures("need_sipp"), pytest.mark.slow]
SCREEN = {"queue": "general", "caller": "13800138000", "customer": "Li Wei", "pin": "1234"}
PHONE = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="agent phone answers, talks until BYE">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
  <pause milliseconds="200"/>
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:agent@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=agent 1 1 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio [rtp_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=ptime:20
      a=sendrecv
  ]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
</scenario>
"""


class NoSpeech:
    async def render(self, text: str, language: str) -> RenderedPrompt:
        raise AssertionError("no prompt is spoken in these tests")


class Heard:
    """A `CallListener` that keeps what the conversation reported."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, Change]] = []
        self.answered = trio.Event()

    def call_changed(self, call_id: str, change: Change) -> None:
        self.changes.append((call_id, change))
        if change == "other_answered":
            self.answered.set()


class Phone:
    """A sipp phone (UAS) with its RTP peer; its SIP messages are logged for the headers."""

    def __init__(self, nursery: trio.Nursery, workdir: Path, peer: RtpPeer, scenario: str = PHONE) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "phone.xml").write_text(scenario)
        self.port, self.peer, self.log = free_udp_port(), peer, workdir / "messages.log"
        sipp = sipp_binary()
        assert sipp is not None
        cmd = [sipp, "-sf", str(workdir / "phone.xml"), "-i", "127.0.0.1", "-p", str(self.port)]
        cmd += ["-mp", str(free_udp_port()), "-m", "1", "-nostdin", "-timeout", "60s", "-timeout_error"]
        cmd += [
            "-trace_err",
            "-trace_msg",
            "-message_file",
            str(self.log),
            "-key",
            "rtp_port",
            str(peer.port),
        ]
        self.run: SippRun = _background(nursery, _run(cmd, workdir))
        nursery.start_soon(peer.receive_forever)

    @property
    def uri(self) -> str:
        return f"sip:agent@127.0.0.1:{self.port}"

    def invite(self) -> str:
        text = self.log.read_text(errors="replace")
        return text[text.index("INVITE sip:") :].split("\n\n", 1)[0]


CALLER, ALICE, BOB, MUSIC = 700.0, 1100.0, 900.0, 500.0  # Hz: each voice can be told apart


async def speak(peer: RtpPeer, frequency: float, seconds: float = 1.0) -> tuple[float, float]:
    start = trio.current_time()
    await peer.send_tone(seconds, frequency=frequency)
    await trio.sleep(0.15)  # the bridge's jitter buffer and a frame or two
    return start, trio.current_time()


async def test_hold_mute_and_keypad_in_the_bridge(endpoint: SipEndpoint, tmp_path: Path) -> None:
    music = tmp_path / "music.wav"
    write_tone(music, MUSIC, 2.0)
    connector = SipAgentConnector(endpoint, hold_music=music)
    async with trio.open_nursery() as nursery:
        phone = Phone(nursery, tmp_path / "phone", await open_rtp_peer())
        await trio.sleep(0.3)
        leg, caller_peer, caller = await _caller(nursery, endpoint, tmp_path)
        agent = AgentEndpoint("8001", phone.uri)
        assert await connector.ring(leg, agent, ring_timeout=Decimal(5), screen=SCREEN) == "answered"
        nursery.start_soon(connector.bridge, leg, agent)
        with trio.fail_after(10):
            await phone.peer.first_packet.wait()
        call_id, agent_peer = leg.call_id, phone.peer

        talk = await speak(caller_peer, CALLER)
        assert hears(agent_peer, talk, CALLER) > 20, "caller -> agent"
        await connector.hold(call_id, True)
        async with trio.open_nursery() as both:
            both.start_soon(speak, agent_peer, ALICE)
            held = await speak(caller_peer, CALLER)
        assert hears(agent_peer, held, CALLER) < 3, "a held caller is not heard"
        assert hears(caller_peer, held, MUSIC) > 20, "a held caller hears music"
        assert hears(caller_peer, held, ALICE) < 3, "... and not the agent"
        await connector.hold(call_id, False)
        back = await speak(agent_peer, ALICE)
        assert hears(caller_peer, back, ALICE) > 20, "agent -> caller after hold"
        assert hears(caller_peer, back, MUSIC) < 3, "the music stopped"

        await connector.mute(call_id, True)
        muted = await speak(agent_peer, ALICE)
        assert hears(caller_peer, muted, ALICE) < 3, "a muted agent is not heard"
        heard = await speak(caller_peer, CALLER)
        assert hears(agent_peer, heard, CALLER) > 20, "a muted agent still hears the caller"
        await connector.mute(call_id, False)

        keyed = trio.current_time()
        await connector.send_dtmf(call_id, "*9#")
        await trio.sleep(1.0)
        assert tones(caller_peer, keyed) == "*9#"

        await connector.hangup(call_id)
        await phone.run.wait_ok()
        assert not leg.handle.ended.is_set()
        await leg.hangup()
        await caller.wait_ok()
        nursery.cancel_scope.cancel()


async def test_consult_conference_and_the_first_agent_leaving(endpoint: SipEndpoint, tmp_path: Path) -> None:
    music = tmp_path / "music.wav"
    write_tone(music, MUSIC, 2.0)
    connector = SipAgentConnector(endpoint, hold_music=music)
    heard = Heard()
    connector.listen(heard)
    async with trio.open_nursery() as nursery:
        alice = Phone(nursery, tmp_path / "alice", await open_rtp_peer())
        bob = Phone(nursery, tmp_path / "bob", await open_rtp_peer())
        await trio.sleep(0.3)
        leg, caller_peer, caller = await _caller(nursery, endpoint, tmp_path)
        agent = AgentEndpoint("8001", alice.uri)
        assert await connector.ring(leg, agent, ring_timeout=Decimal(5), screen=SCREEN) == "answered"
        nursery.start_soon(connector.bridge, leg, agent)
        with trio.fail_after(10):
            await alice.peer.first_packet.wait()
        call_id = leg.call_id

        await connector.consult(call_id, Dial(bob.uri, SCREEN, "8002", call_id, "13800138000"))
        with trio.fail_after(10):
            await heard.answered.wait()
        invite = bob.invite()
        assert 'From: "Li Wei" <sip:13800138000@127.0.0.1>' in invite  # the phone shows the caller
        assert 'P-Asserted-Identity: "Li Wei" <sip:13800138000@127.0.0.1>' in invite
        assert (
            "X-IVR-Caller: 13800138000" in invite and "customer=Li%20Wei" in invite and "1234" not in invite
        )
        consult = await speak(alice.peer, ALICE)
        assert hears(bob.peer, consult, ALICE) > 20, "agent -> consulted agent"
        assert hears(caller_peer, consult, MUSIC) > 20, "the caller hears music meanwhile"
        assert hears(caller_peer, consult, ALICE) < 3, "... and not the consultation"
        private = await speak(bob.peer, BOB)
        assert hears(alice.peer, private, BOB) > 20 and hears(caller_peer, private, BOB) < 3

        await connector.conference(call_id)
        together = await speak(caller_peer, CALLER)
        assert hears(alice.peer, together, CALLER) > 20 and hears(bob.peer, together, CALLER) > 20
        both = await speak(bob.peer, BOB)
        assert hears(caller_peer, both, BOB) > 20 and hears(alice.peer, both, BOB) > 20
        assert hears(caller_peer, both, MUSIC) < 3, "no music in a conference"

        await connector.hangup(call_id)  # the first agent leaves the conference
        await alice.run.wait_ok()
        assert (call_id, "agent_left") in heard.changes
        after = await speak(caller_peer, CALLER)
        assert hears(bob.peer, after, CALLER) > 20, "the caller stays with the consulted agent"
        await connector.hold(call_id, True)  # the consulted agent holds the call now
        await connector.hold(call_id, False)
        await connector.hangup(call_id)
        await bob.run.wait_ok()
        await leg.hangup()
        await caller.wait_ok()
        nursery.cancel_scope.cancel()
    assert await endpoint.active_calls() == 0


HANGS_UP = PHONE.replace(
    '<recv request="INVITE" crlf="true"/>',
    """<recv request="INVITE" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote"/>
      <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="contact"/>
    </action>
  </recv>""",
).replace(
    """  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>""",
    """  <recv request="ACK"/>
  <pause milliseconds="1500"/>
  <send retrans="500"><![CDATA[
      BYE [$contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:agent@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To:[$remote]
      [last_Call-ID:]
      CSeq: 1 BYE
      Contact: <sip:agent@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200"/>""",
)


async def test_an_agent_whose_phone_hangs_up_leaves_the_caller_to_the_flow(
    endpoint: SipEndpoint, tmp_path: Path
) -> None:
    connector = SipAgentConnector(endpoint)
    async with trio.open_nursery() as nursery:
        phone = Phone(nursery, tmp_path / "phone", await open_rtp_peer(), scenario=HANGS_UP)
        await trio.sleep(0.3)
        leg, _, caller = await _caller(nursery, endpoint, tmp_path)
        agent = AgentEndpoint("8001", phone.uri)
        assert await connector.ring(leg, agent, ring_timeout=Decimal(5), screen=SCREEN) == "answered"
        assert 'From: "Li Wei" <sip:13800138000@127.0.0.1>' in phone.invite()
        with trio.fail_after(10):
            await connector.bridge(leg, agent)  # the phone's BYE (to the caller's identity) ends it
        await phone.run.wait_ok()
        assert not leg.handle.ended.is_set()
        await leg.hangup()
        await caller.wait_ok()
        nursery.cancel_scope.cancel()
    assert await endpoint.active_calls() == 0


async def _caller(
    nursery: trio.Nursery, endpoint: SipEndpoint, workdir: Path
) -> tuple[SipCallLeg, RtpPeer, SippRun]:
    peer = await open_rtp_peer()
    nursery.start_soon(peer.receive_forever)
    keys = {"rtp_port": str(peer.port)}
    sipp = start_sipp(nursery, "uac_prompt_rtp.xml", endpoint.port, workdir, keys=keys, timeout=60)
    with trio.fail_after(10):
        handle = await endpoint.incoming.receive()
    leg = SipCallLeg(handle, NoSpeech(), endpoint=endpoint)
    await leg.answer()
    return leg, peer, sipp
