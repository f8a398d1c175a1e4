"""A caller the test drives step by step: SIP over UDP on 127.0.0.1, written here so that
the test decides when the caller presses a key (RFC 4733, through an `RtpPeer`) and when it
hangs up (BYE), which a scripted sipp scenario cannot be told at run time.

It sends INVITE (SDP pointing at the `RtpPeer`), ACKs the 200, answers every request the
IVR sends in the dialog (its BYE, a re-INVITE) with 200 OK, and sends BYE on `hang_up`."""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass, field

import trio
from sip_support import RtpPeer

SDP = """v=0\r
o=caller 1 1 IN IP4 127.0.0.1\r
s=-\r
c=IN IP4 127.0.0.1\r
t=0 0\r
m=audio {port} RTP/AVP 0 101\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-16\r
a=ptime:20\r
a=sendrecv\r
"""


ECHOED = ("via", "from", "to", "call-id", "cseq")  # the headers a response copies from its request


@dataclass
class Message:
    first_line: str
    header_lines: list[str]

    @property
    def headers(self) -> dict[str, str]:
        """By lower-case name, the first of each."""
        found: dict[str, str] = {}
        for line in self.header_lines:
            name, _, value = line.partition(":")
            found.setdefault(name.strip().lower(), value.strip())
        return found

    @property
    def status(self) -> int | None:
        parts = self.first_line.split(" ", 2)
        return int(parts[1]) if parts[0] == "SIP/2.0" else None

    @property
    def method(self) -> str | None:
        return None if self.first_line.startswith("SIP/2.0") else self.first_line.split(" ", 1)[0]


def parse(data: bytes) -> Message:
    head = data.decode(errors="replace").split("\r\n\r\n", 1)[0].split("\r\n")
    return Message(head[0], head[1:])


@dataclass
class PythonCaller:
    """One call from 127.0.0.1 to the IVR's SIP port."""

    sock: trio.socket.SocketType
    ivr: tuple[str, int]
    rtp: RtpPeer
    call_id: str = field(default_factory=lambda: f"{random.getrandbits(64):x}@127.0.0.1")
    from_tag: str = field(default_factory=lambda: f"{random.getrandbits(32):x}")
    to: str = ""
    cseq: int = 1
    answered: trio.Event = field(default_factory=trio.Event)
    ended: trio.Event = field(default_factory=trio.Event)
    _bye_answered: trio.Event = field(default_factory=trio.Event)

    @property
    def local(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def _request(self, method: str, cseq: int, body: str = "") -> bytes:
        branch = f"z9hG4bK{random.getrandbits(48):x}"
        lines = [
            f"{method} sip:service@{self.ivr[0]}:{self.ivr[1]} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.local};branch={branch};rport",
            f'From: "Caller" <sip:13800138000@{self.local}>;tag={self.from_tag}',
            f"To: {self.to or f'<sip:service@{self.ivr[0]}:{self.ivr[1]}>'}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:13800138000@{self.local}>",
            "Max-Forwards: 70",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    async def invite(self) -> None:
        """Send INVITE; `run` ACKs the 200 and sets `answered`."""
        await self.sock.sendto(self._request("INVITE", 1, SDP.format(port=self.rtp.port)), self.ivr)

    async def hang_up(self) -> None:
        """Send BYE and wait for its answer (retransmitted as a UAC would, every 0.5 s)."""
        self.cseq += 1
        bye = self._request("BYE", self.cseq)
        with trio.fail_after(5):
            while not self._bye_answered.is_set():
                await self.sock.sendto(bye, self.ivr)
                with trio.move_on_after(0.5):
                    await self._bye_answered.wait()
        self.ended.set()

    async def run(self) -> None:
        """Receive until cancelled: ACK the INVITE's 200, answer the IVR's requests."""
        while True:
            data, addr = await self.sock.recvfrom(65535)
            message = parse(data)
            if message.status is not None:
                await self._response(message)
            else:
                await self._answer(message, addr)

    async def _response(self, message: Message) -> None:
        method = message.headers.get("cseq", "").split(" ")[-1]
        if method == "INVITE" and message.status == 200:
            self.to = message.headers["to"]
            await self.sock.sendto(self._request("ACK", 1), self.ivr)
            self.answered.set()
        elif method == "BYE":
            self._bye_answered.set()

    async def _answer(self, message: Message, addr: tuple[str, int]) -> None:
        kept = [line for line in message.header_lines if line.split(":", 1)[0].strip().lower() in ECHOED]
        body = SDP.format(port=self.rtp.port) if message.method == "INVITE" else ""
        extra = ["Content-Type: application/sdp"] if body else []
        reply = ["SIP/2.0 200 OK", *kept, f"Contact: <sip:13800138000@{self.local}>", *extra]
        reply.append(f"Content-Length: {len(body.encode())}")
        await self.sock.sendto(("\r\n".join(reply) + "\r\n\r\n" + body).encode(), addr)
        if message.method == "BYE":
            self.ended.set()


async def open_caller(ivr_port: int, rtp: RtpPeer) -> PythonCaller:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    return PythonCaller(sock, ("127.0.0.1", ivr_port), rtp)
