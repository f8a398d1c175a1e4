"""SIP load benchmark: `ivr serve` in one process against sipp callers on 127.0.0.1.

    .venv/bin/python benchmarks/sip_load.py                       # the full run, about 5 min
    .venv/bin/python benchmarks/sip_load.py --steps 100,200 --cps 50
    .venv/bin/python benchmarks/sip_load.py --steps '' --cps '' --overload 400@50,800@100
    .venv/bin/python benchmarks/sip_load.py --steps '' --cps '' --overload 800@100 --no-overload-control

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

Overload steps (`--overload N@R,...`, benchmarks/sipp/uac_stream.xml, number 800): up to N
callers at once, arriving at R calls/s, 2N calls in all; every caller streams audio for the
whole call (a looping u-law file) and keys by SIP INFO. Per step: calls ok, refused (503,
the server's overload control or capacity), failed (sipp: timeouts, a lost key, no BYE),
INVITE->200 of the answered calls (mean, and the share within 200 ms), sipp's
retransmissions, the most calls up, and the peak event-loop and SIP-thread lags the server
measured (/health `load`). `--no-overload-control` passes the same flag to `ivr serve`.
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
STREAM_SCENARIO = ROOT / "benchmarks" / "sipp" / "uac_stream.xml"
FLOWS = ROOT / "benchmarks" / "flows"
DTMF_PACKETS = 20  # dtmf_2833_1.pcap and dtmf_2833_2.pcap hold 10 RTP packets each
TICK = os.sysconf("SC_CLK_TCK")
SIPP_FAILURE = re.compile(
    r"(receive timeout on message [^:]+:\d+"
    r"|while expecting '[^']*' \(index \d+\), received '(?:SIP/2\.0 \d+ [^\r\n']*|[A-Z]+))"
)


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


def start_server(data: Path, *extra: str) -> Server:
    sip, http = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    cmd = [str(IVR), "serve", "--flows", str(FLOWS), "--data-dir", str(data)]
    cmd += ["--sip-port", str(sip), "--http-port", str(http), "--log-level", "WARNING", *extra]
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
    """Samples the server's calls up, memory and measured lags every 0.25 s in a thread."""

    server: Server
    peak_calls: int = 0
    peak_rss: float = 0.0
    peak_loop_lag_ms: float = 0.0
    peak_sip_lag_ms: float = 0.0
    peak_setup_wait_ms: float = 0.0
    peak_backlog_kib: float = 0.0
    overloaded_samples: int = 0
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
                health = self.server.health()
                self.peak_calls = max(self.peak_calls, int(health["calls_active"]))  # type: ignore[call-overload]
                self.peak_rss = max(self.peak_rss, self.server.rss_mib())
                load = dict(health.get("load") or {})  # type: ignore[call-overload]
                self.peak_loop_lag_ms = max(self.peak_loop_lag_ms, float(load.get("event_loop_lag_ms", 0)))
                self.peak_sip_lag_ms = max(self.peak_sip_lag_ms, float(load.get("sip_thread_lag_ms", 0)))
                wait_ms = float(load.get("call_setup_wait_ms", 0))
                self.peak_setup_wait_ms = max(self.peak_setup_wait_ms, wait_ms)
                self.peak_backlog_kib = max(self.peak_backlog_kib, float(load.get("sip_backlog_kib", 0)))
                self.overloaded_samples += bool(load.get("overloaded"))
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
    print(
        f"    ({name}: peak event-loop lag {sampler.peak_loop_lag_ms:.0f} ms, SIP-thread lag "
        f"{sampler.peak_sip_lag_ms:.0f} ms, new calls' wait {sampler.peak_setup_wait_ms:.0f} ms, "
        f"refusing for overload in {sampler.overloaded_samples} samples)",
        file=sys.stderr,
    )
    return step


@dataclass
class OverloadStep:
    name: str
    calls: int
    ok: int = 0
    refused: int = 0
    failed: int = 0
    answer_ms: float = 0.0  # mean INVITE->200 of answered calls
    answered_within_200ms: float = 0.0  # share of answered calls
    retransmissions: int = 0
    peak: int = 0
    peak_loop_lag_ms: float = 0.0
    peak_sip_lag_ms: float = 0.0
    peak_setup_wait_ms: float = 0.0
    peak_backlog_kib: float = 0.0
    failures: dict[str, int] = field(default_factory=dict)  # sipp's reasons, counted

    def row(self) -> str:
        return (
            f"| {self.name} | {self.calls} | {self.ok} | {self.refused} | {self.failed} | "
            f"{self.answer_ms:.0f} ms | {100 * self.answered_within_200ms:.0f} % | {self.retransmissions} | "
            f"{self.peak} | {self.peak_loop_lag_ms:.0f} ms | {self.peak_sip_lag_ms:.0f} ms | "
            f"{self.peak_setup_wait_ms:.0f} ms | {self.peak_backlog_kib:.0f} KiB |"
        )


OVERLOAD_HEADER = (
    "| step | calls | ok | refused (503) | failed | INVITE->200 (mean) | answered within 200 ms | "
    "retransmissions | most calls up | peak event-loop lag | peak SIP-thread lag | peak setup wait | "
    "peak SIP backlog |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def run_overload_step(server: Server, limit: int, rate: float, work: Path) -> OverloadStep:
    """`2 * limit` streaming callers, at most `limit` at once, arriving at `rate`/s."""
    calls = 2 * limit
    step = OverloadStep(f"{limit} callers @ {rate:g}/s", calls)
    write_voice(work / "voice.ulaw")
    for old in [*work.glob("uac_stream_*.csv"), *work.glob("uac_stream_*.log")]:
        old.unlink()
    hold = max(1000, int(1000 * limit / rate))  # long enough for `limit` calls to be up together
    cmd = ["sipp", "-sf", str(STREAM_SCENARIO), "-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM))]
    cmd += ["-mp", str(free_port(socket.SOCK_DGRAM)), "-s", "800", "-key", "hold", str(hold)]
    cmd += ["-r", str(rate), "-l", str(limit), "-m", str(calls), "-nostdin", "-timeout", "180s"]
    cmd += ["-max_socket", "4096", "-trace_stat", "-trace_counts", "-trace_err", "-fd", "1"]
    cmd.append(f"127.0.0.1:{server.sip_port}")
    with Sampler(server) as sampler:
        env = {**os.environ, "TERM": "dumb"}
        subprocess.run(cmd, capture_output=True, cwd=work, env=env, check=False)
        time.sleep(1.0)
    stats, counts = _last_csv_row(work, "uac_stream_*_.csv"), _last_csv_row(work, "uac_stream_*_counts.csv")
    successful, step.failed = int(stats["SuccessfulCall(C)"]), int(stats["FailedCall(C)"])
    step.refused = int(counts.get("5_503_Recv", 0))
    step.ok = successful - step.refused
    step.retransmissions = int(stats["Retransmissions(C)"])
    step.answer_ms = _sipp_duration_ms(stats["ResponseTime1(C)"])
    answered = sum(int(v) for k, v in stats.items() if k.startswith("ResponseTimeRepartition1_"))
    fast = sum(int(stats[k]) for k in ("ResponseTimeRepartition1_<50", "ResponseTimeRepartition1_<100",
                                       "ResponseTimeRepartition1_<200"))  # fmt: skip
    step.answered_within_200ms = fast / answered if answered else 0.0
    step.peak, step.peak_loop_lag_ms = sampler.peak_calls, sampler.peak_loop_lag_ms
    step.peak_sip_lag_ms, step.peak_setup_wait_ms = sampler.peak_sip_lag_ms, sampler.peak_setup_wait_ms
    step.peak_backlog_kib = sampler.peak_backlog_kib
    step.failures = _failure_reasons(work)
    return step


def _failure_reasons(work: Path) -> dict[str, int]:
    """sipp's error log, summarised: how many calls failed at which scenario step."""
    reasons: dict[str, int] = {}
    for log in work.glob("uac_stream_*_errors.log"):
        for match in SIPP_FAILURE.finditer(log.read_text(errors="replace")):
            reasons[match.group(1)] = reasons.get(match.group(1), 0) + 1
    return reasons


def _last_csv_row(work: Path, pattern: str) -> dict[str, str]:
    path = max(work.glob(pattern), key=lambda p: p.stat().st_mtime)
    rows = [line.rstrip(";\n").split(";") for line in path.read_text().splitlines() if line.strip()]
    return dict(zip(rows[0], rows[-1], strict=False))


def _sipp_duration_ms(text: str) -> float:
    """sipp's `HH:MM:SS:micro` as milliseconds."""
    h, m, sec, micro = (int(x) for x in text.split(":"))
    return ((h * 60 + m) * 60 + sec) * 1000 + micro / 1000


def write_voice(path: Path, seconds: float = 2.0) -> None:
    """The callers' voice: a warbling tone with a syllable rhythm, raw G.711 u-law 8 kHz."""
    out = bytearray()
    for i in range(int(8000 * seconds)):
        t = i / 8000
        level = 6000 * (0.5 + 0.5 * math.sin(2 * math.pi * 3 * t))
        frequency = 300 + 150 * math.sin(2 * math.pi * 0.7 * t)
        out.append(_ulaw(int(level * math.sin(2 * math.pi * frequency * t))))
    path.write_bytes(bytes(out))


def _ulaw(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent, mask = 7, 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    return ~(sign | (exponent << 4) | ((magnitude >> (exponent + 3)) & 0x0F)) & 0xFF


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
    parser.add_argument("--overload", default="", help="overload steps N@R: N callers at once, R calls/s")
    parser.add_argument(
        "--no-overload-control",
        action="store_true",
        help="serve with ivr serve's --no-overload-control",
    )
    parser.add_argument("--serve-args", default="", help="more `ivr serve` arguments (space-separated)")
    args = parser.parse_args()
    if shutil.which("sipp") is None or not IVR.exists():
        print("needs sipp and .venv/bin/ivr (make setup)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ivr-load-") as tmp:
        data = Path(tmp)
        control = ["--no-overload-control"] if args.no_overload_control else []
        server = start_server(data, *control, *args.serve_args.split())
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
    if args.steps or args.cps:
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
    if args.overload:
        control = "off" if args.no_overload_control else "on"
        print(f"\noverload control {control}\n\n{OVERLOAD_HEADER}", flush=True)
    for spec in (x for x in args.overload.split(",") if x):
        limit, rate = spec.split("@")
        step = run_overload_step(server, int(limit), float(rate), data)
        print(step.row(), flush=True)
        for reason, n in sorted(step.failures.items()):
            print(f"    failed: {n} x {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
