"""Run the sipp "carrier" of the outbound demo and tests: the called parties of a campaign.

    python scripts/sipp_carrier.py [--port 5090] [--folder var/carrier]

sipp (as UAS, scenario examples/outbound/carrier.xml) answers by the first digit of the
dialed number: 1 a person says "hello?" and listens, 6 a person presses 9 three seconds
after answering, 2 an answering machine plays a greeting and a beep, 3 busy (486), 4 rings
until cancelled, 5 the network fails (503). It logs every INVITE with its X-IVR-Attempt
header to `<folder>/carrier_<pid>_logs.log`. The voices are made here with espeak-ng and
sox (8 kHz u-law WAV, what sipp's rtp_stream plays) into `folder`. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "outbound" / "carrier.xml"
GREETING = "You have reached the voice mail of Li Wei. Please leave a message after the tone."


def make_voices(folder: Path) -> None:
    """person.wav ("hello?") and machine.wav (a greeting, a pause, a 1 kHz beep) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    person, machine = folder / "person.wav", folder / "machine.wav"
    if person.exists() and machine.exists():
        return
    speech, beep, pad = folder / "speech.wav", folder / "beep.wav", folder / "pad.wav"
    _run(["espeak-ng", "-v", "en-us", "-w", str(speech), "Hello?"])
    _run(["sox", str(speech), "-r", "8000", "-c", "1", "-e", "u-law", str(person)])
    _run(["espeak-ng", "-v", "en-us", "-w", str(speech), GREETING])
    _run(["sox", "-n", "-r", "22050", "-c", "1", str(beep), "synth", "0.5", "sine", "1000", "vol", "0.4"])
    _run(["sox", "-n", "-r", "22050", "-c", "1", str(pad), "trim", "0", "0.4"])
    _run(["sox", str(speech), str(pad), str(beep), "-r", "8000", "-c", "1", "-e", "u-law", str(machine)])
    for scratch in (speech, beep, pad):
        scratch.unlink()


def command(port: int, media_port: int) -> list[str]:
    """The sipp command line (run it in the voices' folder)."""
    sipp = shutil.which("sipp") or "sipp"
    return [
        *(sipp, "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(port), "-mp", str(media_port)),
        *("-nostdin", "-trace_logs", "-trace_err", "-max_recv_loops", "1000", "-l", "2000"),
    ]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=5090, help="SIP port on 127.0.0.1 (the trunk's gateway)")
    parser.add_argument("--folder", type=Path, default=Path("var/carrier"), help="voices and logs")
    args = parser.parse_args()
    make_voices(args.folder)
    print(f"carrier: sipp on udp 127.0.0.1:{args.port}, logs in {args.folder}/ (Ctrl-C stops it)", flush=True)
    os.chdir(args.folder)
    cmd = command(args.port, free_udp_port())
    os.execvp(cmd[0], cmd)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
