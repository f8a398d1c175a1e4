"""The secrets audit's tools: where a secret could hide after a call, and how to look.

`Evidence` gathers everything a call left behind, as (where, content) pairs: log text,
every row of every SQLite table (and the raw bytes of the database files and their WAL,
where deleted rows linger), HTTP API answers, screen pops, SIP messages, recordings.
`Evidence.hits(secret)` finds the secret in any of them, written plainly ("135790"), with
the separators a formatter or a person puts between digits ("1 3 5 7 9 0", "1-3-5"), or in
Chinese digits ("一三五七九零"). Recordings are also decoded for DTMF tones (`dtmf_digits`),
so a PIN keyed in band and recorded would be found too.
"""

from __future__ import annotations

import math
import re
import sqlite3
import wave
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

ZH_DIGITS = {
    "0": "零〇",
    "1": "一幺",
    "2": "二两",
    "3": "三",
    "4": "四",
    "5": "五",
    "6": "六",
    "7": "七",
    "8": "八",
    "9": "九",
}


def secret_patterns(secret: str) -> list[re.Pattern[bytes]]:
    """Byte patterns for `secret` (digits) as it could appear anywhere."""
    plain = re.escape(secret.encode())
    gap = "(?:[ ,_/-]|、|，){0,2}".encode()
    spaced = gap.join(re.escape(c.encode()) for c in secret)
    zh = gap.join(
        b"(?:" + b"|".join(re.escape(ch.encode()) for ch in ZH_DIGITS.get(c, c)) + b")" for c in secret
    )
    return [re.compile(plain), re.compile(spaced), re.compile(zh)]


@dataclass
class Evidence:
    """Everything gathered after the calls, to be searched."""

    items: list[tuple[str, bytes]] = field(default_factory=list)

    def add(self, where: str, content: str | bytes) -> None:
        self.items.append(
            (where, content.encode("utf-8", "replace") if isinstance(content, str) else content)
        )

    def add_files(self, folder: Path) -> None:
        """Every file under `folder`, as raw bytes (databases, WAL, logs, recordings, JSON)."""
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                self.add(f"file {path.relative_to(folder)}", path.read_bytes())
                if path.suffix in (".sqlite3", ".db", ".sqlite"):
                    self.add_database(path)

    def add_database(self, path: Path) -> None:
        """Every row of every table, each value as text (so encodings cannot hide it)."""
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    text = " | ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row)
                    self.add(f"{path.name}:{table}", text)
        finally:
            conn.close()

    def hits(self, secret: str) -> list[str]:
        """Where `secret` was found (empty: nowhere)."""
        patterns = secret_patterns(secret)
        found = []
        for where, content in self.items:
            for pattern in patterns:
                match = pattern.search(content)
                if match:
                    start = max(match.start() - 40, 0)
                    found.append(f"{where}: ...{content[start : match.end() + 40]!r}...")
                    break
        return found

    @property
    def places(self) -> list[str]:
        return [where for where, _ in self.items]


# -- audio -----------------------------------------------------------------------------------

ROWS = (697, 770, 852, 941)
COLUMNS = (1209, 1336, 1477, 1633)
KEYS = ("123A", "456B", "789C", "*0#D")


def wav_samples(path: Path) -> tuple[array[int], int]:
    """The recording's 16-bit samples; a two-channel one (an agent conversation: caller left,
    agent right) mixed into one, so that a sound on either side is found."""
    with wave.open(str(path), "rb") as w:
        channels = w.getnchannels()
        assert w.getsampwidth() == 2 and channels in (1, 2)
        samples, rate = array("h", w.readframes(w.getnframes())), w.getframerate()
    if channels == 1:
        return samples, rate
    left, right = samples[0::2], samples[1::2]
    return array("h", (max(-32768, min(32767, a + b)) for a, b in zip(left, right, strict=True))), rate


def _power(block: Iterable[int], frequency: float, rate: int) -> float:
    """Goertzel: the power of one frequency in a block of samples."""
    k = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for sample in block:
        s1, s2 = sample + k * s1 - s2, s1
    return s1 * s1 + s2 * s2 - k * s1 * s2


def dtmf_digits(samples: array[int], rate: int, frame: float = 0.02) -> str:
    """The DTMF keys heard in `samples`, in order (a key held over frames counts once)."""
    size = int(rate * frame)
    keys, last = [], ""
    for start in range(0, len(samples) - size + 1, size):
        block = samples[start : start + size]
        energy = sum(s * s for s in block)
        if energy < size * 300**2:  # quieter than a keypad tone
            last = ""
            continue
        rows = [_power(block, f, rate) for f in ROWS]
        cols = [_power(block, f, rate) for f in COLUMNS]
        r, c = max(range(4), key=rows.__getitem__), max(range(4), key=cols.__getitem__)
        # both tones present and clearly above the other candidates, and most of the energy
        strong = rows[r] > 4 * sorted(rows)[-2] and cols[c] > 4 * sorted(cols)[-2]
        share = (rows[r] + cols[c]) * 2 / size / energy
        key = KEYS[r][c] if strong and share > 0.5 else ""
        if key and key != last:
            keys.append(key)
        last = key
    return "".join(keys)


def tone(frequencies: tuple[float, ...], seconds: float, rate: int = 8000, level: int = 6000) -> list[int]:
    n = int(seconds * rate)
    return [int(sum(level * math.sin(2 * math.pi * f * i / rate) for f in frequencies)) for i in range(n)]


def keypad_tones(keys: str, rate: int = 8000) -> list[int]:
    """`keys` as a phone sends them in band: 100 ms of two tones, 100 ms of quiet, each."""
    out: list[int] = []
    for key in keys:
        [(r, c)] = [(i, row.index(key)) for i, row in enumerate(KEYS) if key in row]
        out += tone((ROWS[r], COLUMNS[c]), 0.1, rate) + [0] * int(0.1 * rate)
    return out


def peak(samples: array[int], rate: int, start: float, end: float) -> int:
    """The loudest sample between `start` and `end` seconds."""
    part = samples[max(int(start * rate), 0) : max(int(end * rate), 0)]
    return max((abs(s) for s in part), default=0)


class Phone:
    """The caller's phone on an `RtpPeer` (tests/adapters/sip), keeping RTP time true to the
    clock as a real phone does: every packet's timestamp is the time since the call's first
    packet, whether it carries speech, keypad tones or an RFC 4733 event (whose packets all
    carry the event's start time, RFC 4733 section 2.5.1)."""

    def __init__(self, peer: Any) -> None:
        self.peer = peer
        self.origin: float | None = None

    async def _send(self, pt: int, payload: bytes, *, marker: bool = False, at: float | None = None) -> None:
        peer = self.peer
        await peer.first_packet.wait()
        now = trio.current_time()
        if self.origin is None:
            self.origin = now
        peer._ts = int(((now if at is None else at) - self.origin) * 8000) & 0xFFFFFFFF
        await peer.sock.sendto(peer._rtp(pt, payload, marker=marker), peer.ivr_addr)

    async def _audio(self, samples: list[int]) -> None:
        from sip_support import ulaw_encode

        for start in range(0, len(samples), 160):
            frame = samples[start : start + 160]
            payload = bytes(ulaw_encode(s) for s in frame + [0] * (160 - len(frame)))
            await self._send(0, payload, marker=start == 0)
            await trio.sleep(0.02)

    async def talk(self, seconds: float, frequency: float = 600.0) -> None:
        """The caller speaks (a tone) for `seconds`."""
        await self._audio(tone((frequency,), seconds))

    async def keys_in_band(self, keys: str) -> None:
        """`keys` sounded as keypad tones in the audio (some phones do, beside events)."""
        await self._audio(keypad_tones(keys))

    async def keys(self, keys: str, *, gap: float = 0.1) -> None:
        """`keys` as RFC 4733 events: 100 ms each (5 updates), 3 end packets, then `gap`."""
        import struct

        for key in keys:
            event = "0123456789*#".index(key)
            start = trio.current_time()
            for i in range(5):
                body = struct.pack("!BBH", event, 10, 160 * (i + 1))
                await self._send(101, body, marker=i == 0, at=start)
                await trio.sleep(0.02)
            for _ in range(3):
                await self._send(101, struct.pack("!BBH", event, 0x80 | 10, 800), at=start)
            await trio.sleep(gap)
