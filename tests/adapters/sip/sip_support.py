"""Test helpers for the SIP adapter's end-to-end tests: sipp as the caller's signalling and a
tiny RTP peer (a trio UDP socket) as the caller's audio.

sipp's scenarios point the IVR's audio at the peer (`-key rtp_port`), so the test itself
counts and decodes what the IVR sent and sends RFC 4733 DTMF from the address the IVR
expects: no pcap files, no media ports shared between tests, and every number asserted is
measured here.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import socket
import struct
import wave
from array import array
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

SCENARIOS = Path(__file__).parent / "scenarios"
_DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def standing_udp_port() -> int:
    """A free port for a peer started long after the port is written into a configuration
    (an agent's phone in the e2e agents file): below the kernel's ephemeral range, so no
    socket bound to port 0 by a test in another xdist worker takes it in the meantime."""
    for _ in range(200):
        port = random.randrange(12000, 20000)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free UDP port in 12000-19999")


def free_media_port() -> int:
    """A port for sipp's `-mp`: sipp binds it and the three above it (audio and video RTP and
    RTCP), so all four must be free; one free port alone lost races on a busy machine. Taken
    below the kernel's ephemeral range (and above `standing_udp_port`'s and the servers' RTP
    ports from 4000), so a socket another test binds to port 0 between this check and sipp's
    start cannot land on one of the four (seen in CI: sipp's video RTP port taken)."""
    for _ in range(100):
        base = random.randrange(20000, 32000, 4)
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
        try:
            for offset, sock in enumerate(socks):
                sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise AssertionError("no four free UDP ports in a row for sipp's media")


def _ulaw_table() -> list[int]:
    table = []
    for byte in range(256):
        u = ~byte & 0xFF
        sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
        magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        table.append(-magnitude if sign else magnitude)
    return table


ULAW = _ulaw_table()


def ulaw_encode(sample: int) -> int:
    """One 16-bit linear sample to G.711 u-law (the classic segment search)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent, mask = 7, 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def rms(payload: bytes) -> float:
    """RMS level of a G.711 u-law payload, in 16-bit linear units."""
    if not payload:
        return 0.0
    return math.sqrt(sum(ULAW[b] ** 2 for b in payload) / len(payload))


@dataclass
class RtpPeer:
    """The caller's audio end: counts what the IVR sends, sends DTMF back."""

    sock: trio.socket.SocketType
    port: int
    packets: list[tuple[float, int, bytes]] = field(default_factory=list)  # (time, pt, payload)
    ivr_addr: tuple[str, int] | None = None
    _seq: int = 1000
    _ts: int = 0
    _ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    first_packet: trio.Event = field(default_factory=trio.Event)

    async def receive_forever(self) -> None:
        while True:
            data, addr = await self.sock.recvfrom(4096)
            if len(data) < 12 or data[0] >> 6 != 2:
                continue
            self.ivr_addr = addr
            self.packets.append((trio.current_time(), data[1] & 0x7F, data[12:]))
            self.first_packet.set()

    def voiced(self, since: float = 0.0, until: float = math.inf, level: float = 300.0) -> int:
        """How many PCMU packets in [since, until) carry sound above `level` RMS."""
        return sum(1 for t, pt, p in self.packets if pt == 0 and since <= t < until and rms(p) > level)

    def count(self, since: float = 0.0, until: float = math.inf) -> int:
        return sum(1 for t, _, _ in self.packets if since <= t < until)

    def _rtp(self, pt: int, payload: bytes, *, marker: bool) -> bytes:
        self._seq = (self._seq + 1) & 0xFFFF
        header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, self._seq, self._ts, self._ssrc)
        return header + payload

    async def send_tone(self, seconds: float, *, frequency: float = 800.0, level: int = 8000) -> None:
        """Speak: a PCMU sine tone in 20 ms packets (the caller's voice for recordings)."""
        await self.first_packet.wait()
        assert self.ivr_addr is not None
        n = 0
        for packet in range(int(seconds / 0.02)):
            payload = bytes(
                ulaw_encode(int(level * math.sin(2 * math.pi * frequency * (n + i) / 8000)))
                for i in range(160)
            )
            n += 160
            self._ts = (self._ts + 160) & 0xFFFFFFFF
            await self.sock.sendto(self._rtp(0, payload, marker=packet == 0), self.ivr_addr)
            await trio.sleep(0.02)

    async def send_dtmf(self, digits: str, *, pt: int = 101, gap: float = 0.15) -> None:
        """Send each digit as an RFC 4733 event (3 updates, 3 end packets), 20 ms apart."""
        await self.first_packet.wait()
        assert self.ivr_addr is not None
        for digit in digits:
            self._ts = (self._ts + 8000) & 0xFFFFFFFF
            event = _DTMF_EVENTS[digit]
            for i in range(3):
                body = struct.pack("!BBH", event, 10, 160 * (i + 1))
                await self.sock.sendto(self._rtp(pt, body, marker=i == 0), self.ivr_addr)
                await trio.sleep(0.02)
            for _ in range(3):
                body = struct.pack("!BBH", event, 0x80 | 10, 640)
                await self.sock.sendto(self._rtp(pt, body, marker=False), self.ivr_addr)
            await trio.sleep(gap)


def hears(peer: RtpPeer, window: tuple[float, float], frequency: float) -> int:
    """How many 20 ms packets a peer received in `window` that carry mostly `frequency`
    (Goertzel), so each party's voice (and the music) can be told apart."""
    start, end = window
    count = 0
    coefficient = 2 * math.cos(2 * math.pi * frequency / 8000)
    for at, pt, payload in peer.packets:
        if not start <= at < end or pt != 0 or len(payload) < 80:
            continue
        samples = [ULAW[b] for b in payload]
        energy = sum(x * x for x in samples)
        s1 = s2 = 0.0
        for x in samples:
            s1, s2 = x + coefficient * s1 - s2, s1
        power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
        if energy > 300**2 * len(samples) and power / (energy * len(samples) / 2) > 0.5:
            count += 1
    return count


def channels(path: Path) -> tuple[list[int], list[int]]:
    """The left and right channels of a 16-bit stereo WAV file."""
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (2, 8000, 2)
        samples = array("h", w.readframes(w.getnframes()))
    return list(samples[0::2]), list(samples[1::2])


def tone_frames(samples: list[int], frequency: float) -> list[int]:
    """The 20 ms frames (by index) that carry mostly `frequency` (Goertzel), as the RTP
    peers' `hears` tells voices apart."""
    found, coefficient = [], 2 * math.cos(2 * math.pi * frequency / 8000)
    for index in range(len(samples) // 160):
        frame = samples[index * 160 : (index + 1) * 160]
        energy = sum(x * x for x in frame)
        s1 = s2 = 0.0
        for x in frame:
            s1, s2 = x + coefficient * s1 - s2, s1
        power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
        if energy > 300**2 * len(frame) and power / (energy * len(frame) / 2) > 0.5:
            found.append(index)
    return found


def tones(peer: RtpPeer, since: float) -> str:
    """The RFC 4733 digits a peer received since `since`."""
    digits, last = [], None
    names = "0123456789*#"
    for at, pt, payload in peer.packets:
        if at < since or pt != 101 or len(payload) < 4:
            continue
        event, flags = struct.unpack("!BB", payload[:2])
        if (event, flags & 0x80) != last and not flags & 0x80:
            digits.append(names[event] if event < len(names) else "?")
        last = (event, flags & 0x80)
    return "".join(digits)


async def open_rtp_peer() -> RtpPeer:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    return RtpPeer(sock, sock.getsockname()[1])


@dataclass
class SippRun:
    """One sipp caller running in the background; `done` is set when sipp exits."""

    done: trio.Event = field(default_factory=trio.Event)
    returncode: int | None = None
    output: str = ""

    async def wait_ok(self, timeout: float = 20) -> None:
        with trio.fail_after(timeout):
            await self.done.wait()
        assert self.returncode == 0, f"sipp failed ({self.returncode}):\n{self.output}"


def sipp_binary() -> str | None:
    return shutil.which("sipp")


def start_sipp(
    nursery: trio.Nursery,
    scenario: str,
    ivr_port: int,
    workdir: Path,
    *,
    keys: dict[str, str] | None = None,
    timeout: int = 20,
) -> SippRun:
    """Run one sipp call of `scenarios/<scenario>` against the IVR on 127.0.0.1, in `nursery`."""
    return _background(nursery, _sipp(scenario, ivr_port, workdir, keys or {}, timeout))


def start_sipp_agent(nursery: trio.Nursery, port: int, workdir: Path) -> SippRun:
    """sipp's built-in `uas` on 127.0.0.1:`port`: answers one call and waits for its BYE."""
    sipp = sipp_binary()
    assert sipp is not None
    cmd = [sipp, "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-mp", str(free_media_port())]
    cmd += ["-m", "1", "-nostdin", "-timeout", "20s", "-timeout_error"]
    return _background(nursery, _run(cmd, workdir))


def _background(nursery: trio.Nursery, work: Coroutine[Any, Any, tuple[int, str]]) -> SippRun:
    run = SippRun()

    async def go() -> None:
        try:
            run.returncode, run.output = await work
        finally:
            run.done.set()

    nursery.start_soon(go)
    return run


async def _sipp(
    scenario: str, ivr_port: int, workdir: Path, keys: dict[str, str], timeout: int = 20
) -> tuple[int, str]:
    sipp = sipp_binary()
    assert sipp is not None
    cmd = [sipp, "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(free_udp_port())]
    cmd += ["-mp", str(free_media_port()), "-m", "1", "-l", "1", "-nostdin", "-s", "service"]
    cmd += ["-timeout", f"{timeout}s", "-timeout_error", "-trace_err"]
    for key, value in keys.items():
        cmd += ["-key", key, value]
    cmd.append(f"127.0.0.1:{ivr_port}")
    return await _run(cmd, workdir)


async def _run(cmd: list[str], workdir: Path) -> tuple[int, str]:
    env = {**os.environ, "TERM": "dumb"}
    result = await trio.run_process(
        cmd, capture_stdout=True, capture_stderr=True, check=False, cwd=str(workdir), env=env
    )
    errors = await trio.to_thread.run_sync(_error_logs, workdir)
    output = result.stdout.decode(errors="replace")[-3000:] + result.stderr.decode(errors="replace") + errors
    return result.returncode, output


def _error_logs(workdir: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in workdir.glob("*_errors.log"))
