"""SIP load benchmark: `ivr serve` in one process against sipp callers on 127.0.0.1.

    .venv/bin/python benchmarks/sip_load.py                       # the full run, about 5 min
    .venv/bin/python benchmarks/sip_load.py --steps 100,200 --cps 50

Each caller (benchmarks/sipp/uac_load.xml) hears a Mandarin prompt, keys 1 and later 2 by
RFC 2833 (sipp's pcap files), and expects the IVR's goodbye and BYE: a refused call, a lost
digit or a missed BYE fails the call. Two kinds of step:

- concurrency: N calls started at --rate calls/s, each long enough for all N to be up at
  once (number 800, flow benchmarks/flows/load.yaml); N steps up until calls fail.
- calls per second: --cps-seconds of new calls at R/s, about 3 s each (number 801).

Per step: calls ok/failed (sipp), the most calls up at once (/health, sampled), the
server's CPU (from /proc/<pid>/stat, all threads) per call-second and as a share of one
core, its resident memory growth per call (/proc/<pid>/status), and RTP loss from callers
(packets the server counted against the 20 packets of the two DTMF pcaps per call).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IVR = ROOT / ".venv" / "bin" / "ivr"
SCENARIO = ROOT / "benchmarks" / "sipp" / "uac_load.xml"
FLOWS = ROOT / "benchmarks" / "flows"
DTMF_PACKETS = 20  # dtmf_2833_1.pcap and dtmf_2833_2.pcap hold 10 RTP packets each
TICK = os.sysconf("SC_CLK_TCK")


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    sip_port: int
    http_port: int
    data: Path

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=5) as r:
            return str(r.read().decode())

    def health(self) -> dict[str, object]:
        return dict(json.loads(self.get("/health")))

    def metric(self, name: str) -> float:
        match = re.search(rf"^{re.escape(name)} (\S+)$", self.get("/metrics"), re.M)
        return float(match.group(1)) if match else 0.0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime

    def rss_mib(self) -> float:
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024  # type: ignore[union-attr]

    def call_seconds(self, since: str) -> tuple[int, float]:
        """(calls, total seconds) of the calls started at or after `since` (ISO time)."""
        conn = sqlite3.connect(self.data / "calls.sqlite3")
        try:
            row = conn.execute(
                "SELECT count(*), sum(julianday(ended_at) - julianday(started_at)) * 86400"
                " FROM calls WHERE started_at >= ? AND ended_at IS NOT NULL",
                (since,),
            ).fetchone()
        finally:
            conn.close()
        return int(row[0]), float(row[1] or 0.0)


def start_server(data: Path) -> Server:
    sip, http = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    cmd = [str(IVR), "serve", "--flows", str(FLOWS), "--data-dir", str(data)]
    cmd += ["--sip-port", str(sip), "--http-port", str(http), "--log-level", "WARNING"]
    log = (data / "server.log").open("wb")
    server = Server(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=data), sip, http, data)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            health = server.health()
            done, total = str(health["prompts_prerendered"]).split("/")
            if health["status"] == "ok" and done == total:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("ivr serve did not become healthy:\n" + (data / "server.log").read_text())


@dataclass
class Sampler:
    """Samples the server's calls up and memory every 0.25 s in a thread."""

    server: Server
    peak_calls: int = 0
    peak_rss: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                active = self.server.health()["calls_active"]
                self.peak_calls = max(self.peak_calls, int(active))  # type: ignore[call-overload]
                self.peak_rss = max(self.peak_rss, self.server.rss_mib())
            except OSError:
                pass


@dataclass
class Step:
    name: str
    calls: int
    ok: int = 0
    failed: int = 0
    peak: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    call_seconds: float = 0.0
    rss_delta: float = 0.0
    rtp_expected: int = 0
    rtp_received: int = 0

    def row(self) -> str:
        core = 100 * self.cpu / self.wall if self.wall else 0
        per_call = 100 * self.cpu / self.call_seconds if self.call_seconds else 0
        mem = 1024 * self.rss_delta / self.peak if self.peak else 0
        loss = 100 * (1 - self.rtp_received / self.rtp_expected) if self.rtp_expected else 0
        return (
            f"| {self.name} | {self.ok} | {self.failed} | {self.peak} | {self.wall:.0f} s | "
            f"{core:.0f} % | {per_call:.3f} % | {mem:.0f} KiB | {loss:.2f} % |"
        )


HEADER = (
    "| step | calls ok | failed | most calls up | wall | server CPU (one core = 100 %) | "
    "CPU per call | memory per call | RTP lost (caller -> IVR) |\n|---|---|---|---|---|---|---|---|---|"
)


def run_step(
    server: Server, name: str, number: str, rate: float, calls: int, hold_ms: int, work: Path
) -> Step:
    """Run one sipp load of `calls` calls to `number` at `rate`/s and measure the server."""
    step = Step(name, calls)
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    cpu0, rss0, rtp0 = server.cpu_seconds(), server.rss_mib(), server.metric("ivr_rtp_packets_received_total")
    cmd = ["sipp", "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM))]
    cmd += ["-mp", str(free_port(socket.SOCK_DGRAM)), "-s", number, "-key", "hold", str(hold_ms)]
    cmd += ["-r", str(rate), "-l", str(calls), "-m", str(calls), "-nostdin", "-timeout", "120s"]
    cmd += ["-max_socket", "4096", f"127.0.0.1:{server.sip_port}"]
    start = time.monotonic()
    with Sampler(server) as sampler:
        env = {**os.environ, "TERM": "dumb"}
        result = subprocess.run(cmd, capture_output=True, cwd=work, env=env, check=False)
        time.sleep(1.0)  # the last records and counters
    step.wall = time.monotonic() - start
    out = result.stdout.decode(errors="replace")
    step.ok, step.failed = _sipp_count(out, "Successful call"), _sipp_count(out, "Failed call")
    step.peak, step.cpu = sampler.peak_calls, server.cpu_seconds() - cpu0
    step.rss_delta = max(0.0, sampler.peak_rss - rss0)
    step.call_seconds = server.call_seconds(since)[1]
    step.rtp_expected = step.ok * DTMF_PACKETS
    step.rtp_received = int(server.metric("ivr_rtp_packets_received_total") - rtp0)
    return step


def _sipp_count(out: str, label: str) -> int:
    match = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", out)
    return int(match[-1]) if match else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="100,200,400,600,800", help="concurrent calls per step")
    parser.add_argument("--rate", type=float, default=50, help="new calls per second in concurrency steps")
    parser.add_argument("--cps", default="50,100", help="calls-per-second steps")
    parser.add_argument("--cps-seconds", type=int, default=30, help="length of each calls-per-second step")
    parser.add_argument("--keep-going", action="store_true", help="go on stepping up after a failing step")
    args = parser.parse_args()
    if shutil.which("sipp") is None or not IVR.exists():
        print("needs sipp and .venv/bin/ivr (make setup)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ivr-load-") as tmp:
        data = Path(tmp)
        server = start_server(data)
        try:
            return _run(server, args, data)
        finally:
            server.process.send_signal(signal.SIGTERM)
            code = server.process.wait(60)
            print(f"\nserver exited {code}; compiled limit {server_limit(data)}")


def server_limit(data: Path) -> str:
    text = (data / "server.log").read_text(errors="replace")
    match = re.search(r"pjsua2 build holds (\d+)", text)
    return match.group(1) if match else "?"


def _run(server: Server, args: argparse.Namespace, data: Path) -> int:
    print(f"server pid {server.process.pid}, idle RSS {server.rss_mib():.0f} MiB\n")
    print(HEADER, flush=True)
    for n in (int(x) for x in args.steps.split(",") if x):
        # Calls long enough that all n are up together: ramp-up n/rate s, plus margin.
        hold = max(0, int(1000 * n / args.rate) - 1500)
        name = f"{n} concurrent @ {args.rate:g}/s"
        step = run_step(server, name, "800", args.rate, n, hold, data)
        print(step.row(), flush=True)
        if step.failed and not args.keep_going:
            break
    for rate in (float(x) for x in args.cps.split(",") if x):
        calls = int(rate * args.cps_seconds)
        # 500 ms between the two keys: sipp plays one pcap per call at a time.
        name = f"{rate:g} calls/s for {args.cps_seconds} s"
        step = run_step(server, name, "801", rate, calls, 500, data)
        print(step.row(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
