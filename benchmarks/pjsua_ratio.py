"""CPU per call of `ivr serve` against the bare C `pjsua` app, under the same sipp load.

    .venv/bin/python benchmarks/pjsua_ratio.py                      # about 2 minutes
    .venv/bin/python benchmarks/pjsua_ratio.py --rate 20 --hold 10 --calls 600 --rounds 2
    .venv/bin/python benchmarks/pjsua_ratio.py --calls 300 --rounds 5 --compare /tmp/before --threads

Both servers answer every call and play one looped prompt (the same 4 s WAV) until the
caller hangs up:

- `pjsua`: pjproject's own C app (`pjsip-apps/src/pjsua`), built by
  scripts/build-pjsua-app.sh from the same Debian source tree, config_site.h and flags as
  the pjsua2 wheel `ivr serve` runs on, started with `--auto-answer=200 --play-file
  --auto-play` (its player loops), null audio, 8 kHz, no VAD, no echo canceller;
- `ivr serve`: a one-node flow, a menu whose prompt is that WAV, repeating until the
  caller hangs up (benchmarks/flows_ratio/).

The load (benchmarks/sipp/uac_ratio.xml) is one sipp caller per call: INVITE, ACK, the
caller's own audio streamed (RTP, PCMU) for `--hold` seconds, then BYE. The same
`--calls` at the same `--rate`, one server after the other in one run (`--rounds`
alternates them again, to even out a shared machine). For each run: calls ok/failed
(sipp) and the server's CPU from /proc/<pid>/stat (user + system, all threads) between
the start of the load and its end; CPU per call is that divided by the calls that
succeeded. The ratio is ivr's CPU per call over pjsua's.

`--threads` also splits each server's CPU per call by thread, from /proc/<pid>/task/*/stat
sampled every 0.1 s (a thread that ends during the load keeps the CPU it had at its last
sample): by the thread's OS name (`ivr serve` names its own: the main thread "ivr" runs
trio, "pjsua2" the pj thread, "ivr-records" the records writer; pjsua2's C threads started
at start-up are "pjmedia"), and "ended" for threads gone by the end of the load, which is
pjmedia's conference clock in both servers (docs/design.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import wave
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IVR = ROOT / ".venv" / "bin" / "ivr"
SCENARIO = ROOT / "benchmarks" / "sipp" / "uac_ratio.xml"
FLOWS = ROOT / "benchmarks" / "flows_ratio"
BUILD_PJSUA = ROOT / "scripts" / "build-pjsua-app.sh"
TICK = os.sysconf("SC_CLK_TCK")
PROMPT_SECONDS = 4.0


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the whole process (every thread) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """Each thread's (OS name, user + system CPU so far) by thread id."""
    threads: dict[int, tuple[str, float]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            raw = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = raw.rsplit(")", 1)[1].split()
        threads[int(tid)] = (
            raw[raw.index("(") + 1 : raw.rindex(")")],
            (int(fields[11]) + int(fields[12])) / TICK,
        )
    return threads


class ThreadSampler:
    """Samples every thread's CPU while the load runs (`with` block)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = thread_cpu(pid)
        self.last: dict[int, tuple[str, float]] = dict(self.before)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> ThreadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            with suppress(OSError):
                self.last.update(thread_cpu(self.pid))

    def by_name(self) -> dict[str, float]:
        """CPU seconds during the load by thread name; "ended" threads apart."""
        alive = set(thread_cpu(self.pid))
        totals: dict[str, float] = {}
        for tid, (name, cpu) in self.last.items():
            key = name if tid in alive else f"{name} (ended)"
            if tid == self.pid:
                key = f"{name} (main)"
            totals[key] = totals.get(key, 0.0) + cpu - self.before.get(tid, (name, 0.0))[1]
        return totals


@dataclass
class Run:
    server: str
    ok: int
    failed: int
    cpu: float
    wall: float
    threads: dict[str, float] | None = None

    @property
    def per_call_ms(self) -> float:
        return 1000 * self.cpu / self.ok if self.ok else math.inf

    def row(self) -> str:
        core = 100 * self.cpu / self.wall if self.wall else 0.0
        row = (
            f"| {self.server} | {self.ok} | {self.failed} | {self.cpu:.2f} s | {core:.1f} % | "
            f"{self.per_call_ms:.1f} ms |"
        )
        if self.threads and self.ok:
            split = sorted(self.threads.items(), key=lambda item: -item[1])
            row += (
                "\n|  | by thread: "
                + ", ".join(f"{name} {1000 * cpu / self.ok:.1f} ms" for name, cpu in split if cpu > 0)
                + " | | | | |"
            )
        return row


HEADER = (
    "| server | calls ok | failed | CPU (user+sys) | share of one core | CPU per call |\n"
    "|---|---|---|---|---|---|"
)


def write_audio(work: Path) -> None:
    """The prompt both servers loop (16-bit PCM tone, 8 kHz) and the caller's audio (PCMU)."""
    rate = 8000
    samples = [int(8000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(int(rate * PROMPT_SECONDS))]
    with wave.open(str(work / "prompt.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    # sipp streams the caller's audio from a G.711 mu-law WAV (3 s, looped).
    caller = bytes(_ulaw(int(4000 * math.sin(2 * math.pi * 300 * n / rate))) for n in range(3 * rate))
    fmt = struct.pack("<HHIIHHH", 7, 1, rate, rate, 1, 8, 0)  # mu-law, mono, 8 bit, no extra
    header = b"RIFF" + struct.pack("<I", 50 + len(caller)) + b"WAVE"
    header += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    header += b"fact" + struct.pack("<II", 4, len(caller)) + b"data" + struct.pack("<I", len(caller))
    (work / "caller.wav").write_bytes(header + caller)


def _ulaw(sample: int) -> int:
    """G.711 mu-law of a 16-bit sample."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def run_sipp(work: Path, port: int, args: argparse.Namespace) -> tuple[int, int]:
    cmd = ["sipp", "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM))]
    cmd += ["-s", "900", "-key", "hold", str(int(args.hold * 1000))]
    cmd += ["-r", str(args.rate), "-m", str(args.calls), "-l", str(args.calls), "-nostdin"]
    cmd += ["-timeout", f"{int(args.calls / args.rate + args.hold + 60)}s", "-max_socket", "4096"]
    cmd += ["-trace_err"]
    cmd += [f"127.0.0.1:{port}"]
    result = subprocess.run(
        cmd, capture_output=True, cwd=work, env={**os.environ, "TERM": "dumb"}, check=False
    )
    out = result.stdout.decode(errors="replace")
    return _sipp_count(out, "Successful call"), _sipp_count(out, "Failed call")


def _sipp_count(out: str, label: str) -> int:
    match = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", out)
    return int(match[-1]) if match else 0


def measure(name: str, pid: int, work: Path, port: int, args: argparse.Namespace) -> Run:
    cpu0, start = cpu_seconds(pid), time.monotonic()
    with ThreadSampler(pid) as sampler:
        ok, failed = run_sipp(work, port, args)
        time.sleep(1.0)  # the last BYEs
    threads = sampler.by_name() if args.threads else None
    return Run(name, ok, failed, cpu_seconds(pid) - cpu0, time.monotonic() - start, threads)


@contextmanager
def pjsua(binary: str, work: Path, max_calls: int) -> Iterator[tuple[int, int]]:
    port = free_port(socket.SOCK_DGRAM)
    cmd = [binary, "--null-audio", "--auto-answer=200", f"--play-file={work / 'prompt.wav'}", "--auto-play"]
    cmd += [f"--max-calls={max_calls}", f"--local-port={port}", "--no-tcp", "--ip-addr=127.0.0.1"]
    cmd += ["--bound-addr=127.0.0.1", f"--rtp-port={_rtp_base()}", "--clock-rate=8000"]
    cmd += ["--snd-clock-rate=8000", "--no-vad", "--ec-tail=0", "--log-level=1", "--app-log-level=1"]
    cmd += ["--use-cli", "--no-cli-console"]
    with (work / "pjsua.log").open("wb") as log:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.5)
        if process.poll() is not None:
            raise SystemExit("pjsua exited at start:\n" + (work / "pjsua.log").read_text(errors="replace"))
        yield process.pid, port
    finally:
        process.kill()
        process.wait(10)


@contextmanager
def ivr_serve(work: Path, checkout: Path | None = None) -> Iterator[tuple[int, int]]:
    """`ivr serve` of this checkout, or of `checkout` (its `src` first on PYTHONPATH, with
    this checkout's virtualenv)."""
    data = work / "ivr-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    flows = work / "flows"
    shutil.rmtree(flows, ignore_errors=True)
    shutil.copytree(FLOWS, flows)
    shutil.copy(work / "prompt.wav", flows / "prompt.wav")
    sip, http = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    cmd = [str(IVR), "serve", "--flows", str(flows), "--data-dir", str(data), "--no-sip-tcp"]
    cmd += ["--sip-port", str(sip), "--http-port", str(http), "--log-level", "WARNING"]
    cmd += ["--rtp-port", str(_rtp_base())]
    # cwd: `ivr serve` opens a prompt's audio path relative to its working folder, not to
    # the flow file as docs/language.md says (reported); the flows folder makes both agree.
    with (work / "ivr.log").open("wb") as log:
        env = {**os.environ, "PYTHONPATH": str(checkout / "src")} if checkout else None
        process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=flows, env=env
        )
    try:
        _wait_healthy(http, process, work)
        yield process.pid, sip
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_healthy(http: int, process: subprocess.Popen[bytes], work: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/health", timeout=2) as reply:
                done, total = str(json.loads(reply.read())["prompts_prerendered"]).split("/")
            if done == total:
                time.sleep(1.0)  # settle, as pjsua gets
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("ivr serve did not become healthy:\n" + (work / "ivr.log").read_text(errors="replace"))


def _rtp_base() -> int:
    """A free even port with room above it for the RTP/RTCP pairs of every call."""
    for _ in range(50):
        base = free_port(socket.SOCK_DGRAM) & ~1
        if base < 60000:
            return base
    return 40000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=600, help="calls per run (default 600)")
    parser.add_argument("--rate", type=float, default=20, help="new calls per second (default 20)")
    parser.add_argument("--hold", type=float, default=10, help="seconds the caller stays (default 10)")
    parser.add_argument("--rounds", type=int, default=1, help="pjsua then ivr, this many times")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (logs, records)")
    parser.add_argument("--threads", action="store_true", help="split each server's CPU per call by thread")
    parser.add_argument(
        "--compare",
        type=Path,
        help="another checkout (for example `git worktree add /tmp/before <commit>`): each round also "
        "runs its ivr serve, in alternating order, with this checkout's virtualenv",
    )
    args = parser.parse_args()
    if shutil.which("sipp") is None or not IVR.exists():
        print("needs sipp and .venv/bin/ivr (make setup)", file=sys.stderr)
        return 2
    binary = (
        subprocess.run(["bash", str(BUILD_PJSUA)], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    up = int(args.rate * args.hold)
    print(
        f"{args.calls} calls per run at {args.rate:g}/s, {args.hold:g} s each (about {up} up at once), "
        f"caller audio streamed; pjsua: {binary}\n"
    )
    print(HEADER, flush=True)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="ivr-ratio-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        write_audio(work)
        shutil.copy(SCENARIO, work / SCENARIO.name)
        ivrs: list[tuple[str, Path | None]] = [("ivr serve", None)]
        if args.compare:
            ivrs.append((f"ivr serve ({args.compare})", args.compare))
        for number in range(args.rounds):
            with pjsua(binary, work, max(up * 2, 64)) as (pid, port):
                runs.append(measure("pjsua (C)", pid, work, port, args))
            print(runs[-1].row(), flush=True)
            for label, checkout in ivrs if number % 2 == 0 else ivrs[::-1]:
                with ivr_serve(work, checkout) as (pid, port):
                    runs.append(measure(label, pid, work, port, args))
                print(runs[-1].row(), flush=True)
    pj_ms = per_call_ms([r for r in runs if r.server.startswith("pjsua")])
    print(f"\nCPU per call: pjsua {pj_ms:.1f} ms", end="")
    for label, _ in ivrs:
        ivr_ms = per_call_ms([r for r in runs if r.server == label])
        print(f"; {label} {ivr_ms:.1f} ms, ratio {ivr_ms / pj_ms:.2f}x", end="")
    print()
    return 0 if all(r.failed == 0 for r in runs) else 1


def per_call_ms(runs: list[Run]) -> float:
    return sum(r.cpu for r in runs) * 1000 / max(1, sum(r.ok for r in runs))


if __name__ == "__main__":
    sys.exit(main())
