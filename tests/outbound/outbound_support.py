"""Test helpers for outbound calling: the sipp "carrier" (scenarios/carrier.xml, one
behaviour per dialed number's first digit) and the audio its called parties speak.

The carrier logs every INVITE it gets with the number and the `X-IVR-Attempt` header, so
a test counts the calls each number got and checks that no attempt was dialled twice.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import trio

SCENARIOS = Path(__file__).parent / "scenarios"
CARRIER = SCENARIOS / "carrier.xml"
_INVITE = re.compile(r"INVITE (\S+) (\S*)")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_voices(folder: Path) -> None:
    """person.wav ("hello?", then the person waits) and machine.wav (a long greeting, then a
    beep) as 8 kHz u-law WAV files, what sipp's rtp_stream plays."""
    folder.mkdir(parents=True, exist_ok=True)
    person, machine = folder / "person.wav", folder / "machine.wav"
    if person.exists() and machine.exists():
        return
    speech = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(speech), "Hello?"], check=True)
    subprocess.run(["sox", str(speech), "-r", "8000", "-c", "1", "-e", "u-law", str(person)], check=True)
    greeting = (
        "Hello, you have reached the voice mail of Li Wei. I cannot take your call right now. "
        "Please leave a message after the tone."
    )
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(speech), greeting], check=True)
    beep = folder / "beep.wav"
    subprocess.run(
        ["sox", "-n", "-r", "22050", "-c", "1", str(beep), "synth", "0.5", "sine", "1000", "vol", "0.4"]
    )
    pad = folder / "pad.wav"
    subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", str(pad), "trim", "0", "0.4"], check=True)
    subprocess.run(
        ["sox", str(speech), str(pad), str(beep), "-r", "8000", "-c", "1", "-e", "u-law", str(machine)],
        check=True,
    )
    for scratch in (speech, beep, pad):
        scratch.unlink()


@dataclass
class Carrier:
    """The sipp carrier on 127.0.0.1:`port`, running in `folder` (its logs land there)."""

    port: int
    folder: Path
    process: trio.Process | None = None
    stopped: trio.Event = field(default_factory=trio.Event)

    @property
    def gateway(self) -> str:
        return f"127.0.0.1:{self.port}"

    def invites(self) -> list[tuple[str, str]]:
        """(number, attempt id) of every INVITE the carrier got, in order."""
        found: list[tuple[str, str]] = []
        for log in sorted(self.folder.glob("*_logs.log")):
            found += [(m.group(1), m.group(2)) for m in _INVITE.finditer(log.read_text(errors="replace"))]
        return found

    def calls_per_number(self) -> Counter[str]:
        return Counter(number for number, _ in self.invites())


async def run_carrier(
    folder: Path, *, task_status: trio.TaskStatus[Carrier] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run the carrier until cancelled (start it with `nursery.start`)."""
    sipp = shutil.which("sipp")
    assert sipp is not None
    make_voices(folder)
    port = free_udp_port()
    cmd = [sipp, "-sf", str(CARRIER), "-i", "127.0.0.1", "-p", str(port), "-mp", str(free_udp_port())]
    cmd += ["-nostdin", "-trace_logs", "-trace_err", "-max_recv_loops", "1000", "-l", "2000"]
    carrier = Carrier(port, folder)
    env = {**os.environ, "TERM": "dumb"}
    async with trio.open_nursery() as nursery:
        run = partial(
            trio.run_process,
            cmd,
            cwd=str(folder),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        carrier.process = await nursery.start(run)
        await _until_listening(port)
        task_status.started(carrier)


async def _until_listening(port: int) -> None:
    """sipp binds its UDP port a moment after it starts."""
    with trio.fail_after(10):
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    return
            await trio.sleep(0.05)
