"""Cluster benchmark: one `ivr serve` alone against two behind Kamailio, side by side, one run.

    .venv/bin/python benchmarks/cluster_load.py                         # about 3 min
    .venv/bin/python benchmarks/cluster_load.py --rates 100,200 --seconds 10 --hold 3
    .venv/bin/python benchmarks/cluster_load.py --only cluster --rates 150 --seconds 6

For each set-up (one instance reached directly; `ivr cluster up --instances 2`, reached
through Kamailio) and each rate R, sipp places R new calls a second for --seconds, each up
--hold seconds (tests/cluster/scenarios/uac_call_via_proxy.xml to the brokerage's 95500),
and the script prints: calls ok and failed, the most calls up at once (sampled from the
instances' /health), and the CPU seconds of the instances and of Kamailio (all its
processes) per 1,000 calls. Both set-ups share this machine's cores with sipp: what two
instances gain here is the second core one Python process cannot use, not a second machine.
Under a step with failures it prints what they were: the replies sipp did not expect (by
status) and its timeouts, and what Kamailio logged meanwhile (INVITE branches that timed
out, instances whose OPTIONS probe failed, callers refused because no instance was up).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
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
SCENARIO = ROOT / "tests" / "cluster" / "scenarios" / "uac_call_via_proxy.xml"
TICK = os.sysconf("SC_CLK_TCK")
NO_OVERLOAD_CONTROL = ("--no-overload-control",)
QUIET = ("--agents", "none", "--log-level", "WARNING", *NO_OVERLOAD_CONTROL)


def free_block(count: int, start: int) -> int:
    """The first of `count` consecutive ports from `start` free for UDP and TCP."""
    for base in range(start, 60000, count + 1):
        if all(
            _free(p, k) for p in range(base, base + count) for k in (socket.SOCK_DGRAM, socket.SOCK_STREAM)
        ):
            return base
    raise SystemExit("no free ports")


def _free(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def kamailio_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-x", "kamailio"], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


def active(http_ports: list[int]) -> int:
    total = 0
    for port in http_ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as reply:
            total += int(json.load(reply)["calls_active"])
    return total


@dataclass
class SetUp:
    name: str
    sip_port: int
    http_ports: list[int]
    instance_pids: list[int]
    proxy: bool
    stop: list[subprocess.Popen[str]] = field(default_factory=list)


@dataclass
class Result:
    setup: str
    rate: int
    ok: int
    failed: int
    peak: int
    instance_cpu: float
    kamailio_cpu: float
    why: str = ""  # what the failed calls got, and what Kamailio did meanwhile


# Kamailio's log lines (adapters/cluster/kamailio.py) that explain failed or delayed calls
KAMAILIO_SIGNS = {
    "branch timed out": "did not answer: marked inactive",
    "probe down": "is down (probe failed",
    "no instance": "no ivr serve instance is up",
}


def wait_healthy(ports: list[int], process: subprocess.Popen[str]) -> None:
    for _ in range(1200):
        if process.poll() is not None:
            raise SystemExit(f"exited {process.returncode}")
        try:
            active(ports)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("not healthy in 240 s")


def alone(work: Path) -> SetUp:
    sip, http = free_block(1, 23000), free_block(1, 24000)
    command = [str(IVR), "serve", "--flows", str(ROOT / "flows"), "--data-dir", str(work / "alone")]
    command += ["--sip-port", str(sip), "--http-port", str(http), "--rtp-port", "30000", *QUIET]
    command += ["--tts-cache", str(work / "tts")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, text=True)
    wait_healthy([http], process)
    return SetUp("one instance", sip, [http], [process.pid], False, [process])


kamailio_log: list[Path | None] = [None]  # the running cluster's Kamailio log


def kamailio_signs(since: int) -> tuple[str, int]:
    """What Kamailio logged past byte `since` (KAMAILIO_SIGNS counted), and the log's size."""
    path = kamailio_log[0]
    if path is None or not path.exists():
        return "", 0
    text = path.read_text(errors="replace")
    counts = {name: text[since:].count(sign) for name, sign in KAMAILIO_SIGNS.items()}
    return ", ".join(f"{name} {n}" for name, n in counts.items() if n), len(text)


def failure_reasons(folder: Path) -> str:
    """sipp's error log summed up: the unexpected replies (by status) and timeouts."""
    text = "".join(p.read_text(errors="replace") for p in folder.glob("*_errors.log"))
    statuses = re.findall(r"Aborting call on unexpected message.*?SIP/2\.0 (\d{3})", text, re.DOTALL)
    found = {f"got {code}": statuses.count(code) for code in sorted(set(statuses))}
    found["timeouts"] = len(re.findall(r"[Tt]imeout", text))
    return ", ".join(f"{name} {n}" for name, n in found.items() if n)


def clustered(work: Path) -> SetUp:
    sip, http = free_block(3, 25000), free_block(2, 26000)
    kamailio_log[0] = work / "cluster" / "kamailio" / "kamailio.log"
    command = [str(IVR), "cluster", "up", "--sip-port", str(sip), "--http-port", str(http)]
    command += ["--rtp-port", "34000", "--data-dir", str(work / "cluster"), "--flows", str(ROOT / "flows")]
    command += ["--", *QUIET, "--tts-cache", str(work / "tts")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    said = ""
    for line in process.stdout:
        said += line
        if "Ctrl-C stops it" in line:
            break
    pids = [int(p) for p in re.findall(r"instance-\d: pid (\d+)", said)]
    if len(pids) != 2:
        raise SystemExit("ivr cluster up did not start:\n" + said)
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return SetUp("two instances + Kamailio", sip, [http, http + 1], pids, True, [process])


def run_rate(setup: SetUp, rate: int, seconds: int, hold: int, work: Path) -> Result:
    calls = rate * seconds
    folder = work / f"{setup.proxy}-{rate}"
    folder.mkdir()
    sipp_port = free_block(1, 27000)
    media = free_block(4, 28000)
    command = ["sipp", "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(sipp_port), "-mp", str(media)]
    command += ["-r", str(rate), "-m", str(calls), "-l", str(calls * 2), "-nostdin", "-s", "95500"]
    command += ["-key", "caller", "13800138000", "-key", "hold", str(hold * 1000)]
    command += ["-key", "rtp_port", str(media + 4), "-timeout", "120s", "-max_socket", "4096", "-trace_err"]
    command.append(f"127.0.0.1:{setup.sip_port}")
    cpu0 = cpu_of(setup.instance_pids)
    kam0 = cpu_of(kamailio_pids()) if setup.proxy else 0.0
    _, log_at = kamailio_signs(0) if setup.proxy else ("", 0)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, active(setup.http_ports))
            done.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    env = {**os.environ, "TERM": "dumb"}
    finished = subprocess.run(command, capture_output=True, text=True, cwd=folder, env=env, check=False)
    done.set()
    sampler.join()
    kam = cpu_of(kamailio_pids()) - kam0 if setup.proxy else 0.0
    ok, failed = (_count(finished.stdout, label) for label in ("Successful call", "Failed call"))
    signs = kamailio_signs(log_at)[0] if setup.proxy else ""
    why = "; ".join(part for part in (failure_reasons(folder), signs) if part)
    return Result(setup.name, rate, ok, failed, peak, cpu_of(setup.instance_pids) - cpu0, kam, why)


def _count(screen: str, label: str) -> int:
    rows = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", screen)
    return int(rows[-1]) if rows else -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100,150,200", help="new calls a second, one step each")
    parser.add_argument("--seconds", type=int, default=10, help="seconds of new calls per step")
    parser.add_argument("--hold", type=int, default=3, help="seconds each call stays up")
    parser.add_argument("--only", choices=("alone", "cluster"), help="run one set-up, not both")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="cluster-load-") as scratch:
        work = Path(scratch)
        setups = {"alone": alone, "cluster": clustered}
        for make in [setups[args.only]] if args.only else setups.values():
            setup = make(work)
            try:
                for rate in rates:
                    results.append(run_rate(setup, rate, args.seconds, args.hold, work))
                    time.sleep(args.hold + 2)
            finally:
                for process in setup.stop:
                    process.send_signal(signal.SIGTERM)
                    process.wait(90)
    head = f"{'set-up':<26} {'calls/s':>7} {'ok':>6} {'failed':>6} {'most up':>7}"
    print(f"{head} {'CPU/1000 calls':>15} {'Kamailio':>9}")
    for r in results:
        per = 1000 / max(r.ok + r.failed, 1)
        print(
            f"{r.setup:<26} {r.rate:>7} {r.ok:>6} {r.failed:>6} {r.peak:>7} "
            f"{r.instance_cpu * per:>13.1f} s {r.kamailio_cpu * per:>7.1f} s"
        )
        if r.why:
            print(f"    {r.why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
