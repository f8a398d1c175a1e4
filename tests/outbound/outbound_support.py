"""Test helpers for outbound calling: the sipp "carrier" of scripts/sipp_carrier.py (one
behaviour per dialed number's first digit), run in the test's nursery.

The carrier logs every INVITE it gets with the number and the `X-IVR-Attempt` header, so
a test counts the calls each number got and checks that no attempt was dialled twice.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import trio
from sipp_carrier import command, free_udp_port, make_voices

SCENARIOS = Path(__file__).parent / "scenarios"
_INVITE = re.compile(r"INVITE (\S+) (\S*)")


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
    assert shutil.which("sipp") is not None
    make_voices(folder)
    port = free_udp_port()
    cmd = command(port, free_udp_port())
    carrier = Carrier(port, folder)
    env = {**os.environ, "TERM": "dumb"}
    errors = (folder / "sipp.out").open("wb")
    async with trio.open_nursery() as nursery:
        run = partial(
            trio.run_process, cmd, cwd=str(folder), env=env, stdout=errors, stderr=errors, check=False
        )
        carrier.process = await nursery.start(run)
        await _until_listening(carrier)
        task_status.started(carrier)


async def _until_listening(carrier: Carrier) -> None:
    """sipp binds its UDP port a moment after it starts (or exits at once on an error)."""
    with trio.fail_after(10):
        for _ in range(10_000):
            assert carrier.process is not None
            if carrier.process.returncode is not None:
                output = (carrier.folder / "sipp.out").read_text(errors="replace")
                raise AssertionError(f"the sipp carrier exited {carrier.process.returncode}:\n{output}")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("127.0.0.1", carrier.port))
                except OSError:
                    return
            await trio.sleep(0.05)
