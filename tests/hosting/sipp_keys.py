"""sipp scenarios for callers who walk a flow by keys: generated from a list of steps.

`keyed_caller(steps)` is a caller (From `[caller]`, to `[service]`) who talks all along
(`voice.ulaw` in sipp's working directory, streamed by `rtp_stream`; write it with
`write_voice`), waits and keys each step's digits by SIP INFO, then hangs up; a 503 ends
the call on its own path. sipp's `-trace_counts` file then tells how many calls were
answered (column `ANSWERED`) and refused (`REFUSED`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from sip_support import ulaw_encode

ANSWERED = "5_200_Recv"  # the INVITE's 200 is the sixth message of the scenario
REFUSED = "4_503_Recv"

_HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="keyed caller">
  <send retrans="500" start_rtd="1">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-inv
      From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP4 [media_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [rtpstream_audio_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=ptime:20
      a=sendrecv
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="503" optional="true" next="refused"/>
  <recv response="200" rrs="true" rtd="1"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <nop><action><exec rtp_stream="voice.ulaw,-1,0"/></action></nop>
"""

_INFO = """  <send retrans="500">
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} INFO
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={digit}
      Duration=160
    ]]>
  </send>
  <recv response="200"/>
  <pause milliseconds="150"/>
"""

_TAIL = """  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} BYE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" next="done"/>
  <label id="refused"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-inv
      From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <label id="done"/>
</scenario>
"""


def keyed_caller(steps: Sequence[tuple[int, str]]) -> str:
    """A caller who, per step, waits `pause` ms and then keys `digits` (150 ms apart)."""
    parts, cseq = [_HEAD], 2
    for pause, digits in steps:
        parts.append(f'  <pause milliseconds="{pause}"/>\n')
        for digit in digits:
            parts.append(_INFO.format(cseq=cseq, digit=digit))
            cseq += 1
    parts.append(_TAIL.format(cseq=cseq))
    return "".join(parts)


def write_voice(path: Path) -> None:
    """Two seconds of a warbling tone (raw u-law, 8 kHz): the callers' voice."""
    samples = (
        int(6000 * math.sin(2 * math.pi * (300 + 150 * math.sin(4.4 * t / 8000)) * t / 8000))
        for t in range(16000)
    )
    path.write_bytes(bytes(ulaw_encode(s) for s in samples))


def last_row(path: Path) -> dict[str, str]:
    """The last line of one of sipp's `;`-separated statistics files, by column name."""
    rows = [line.rstrip(";").split(";") for line in path.read_text().splitlines() if line.strip()]
    return dict(zip(rows[0], rows[-1], strict=False))
