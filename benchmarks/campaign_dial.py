"""Dial-rate benchmark: one `ivr serve` running a broadcast campaign against the sipp carrier.

    .venv/bin/python benchmarks/campaign_dial.py                          # 1,000 contacts, about 2 min
    .venv/bin/python benchmarks/campaign_dial.py --contacts 300 --concurrent 60 --cps 30
    .venv/bin/python benchmarks/campaign_dial.py --mix people              # every callee answers

The service is examples/outbound (the `broadcast` campaign and flow) with the trunk's
channels, the pacing and the retry delays set from the arguments. The carrier is
scripts/sipp_carrier.py: the first digit of a number picks the called party's behaviour
(1 a person, 6 a person who presses 9, 2 an answering machine, 3 busy, 4 no answer,
5 a failing network). `--mix issue` spreads the contacts over all six as the outbound
tests do (40/10/15/15/10/10 %); `--mix people` makes every one a person.

Printed: the run's wall time, attempts and the dial rate achieved (INVITEs per second over
the run, and the best 10-second window), the channels used (most and mean outbound calls up
at once against the trunk's channels), the server's CPU (all threads, from /proc) per
attempt and as a share of one core, and the per-outcome counts checked against the counts
the mix and the retry rules call for (a mismatch exits 1).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from sipp_carrier import command, free_udp_port, make_voices  # noqa: E402

IVR = ROOT / ".venv" / "bin" / "ivr"
EXAMPLE = ROOT / "examples" / "outbound"
TICK = os.sysconf("SC_CLK_TCK")
MIXES = {
    "issue": {"1": 40, "6": 10, "2": 15, "3": 15, "4": 10, "5": 10},
    "people": {"1": 100},
}
# attempts per contact under the example's retry rules (busy 2 more, no answer and failed 1)
ATTEMPTS = {"1": 1, "6": 1, "2": 1, "3": 3, "4": 2, "5": 2}
FINAL = {"1": "answered", "6": "answered", "2": "machine", "3": "busy", "4": "no_answer", "5": "failed"}
ATTEMPT_OUTCOME = FINAL


def contact_numbers(mix: dict[str, int], total: int) -> list[str]:
    counts = {digit: total * share // 100 for digit, share in mix.items()}
    counts[next(iter(mix))] += total - sum(counts.values())
    return [f"{digit}{i:05d}" for digit, count in counts.items() for i in range(count)]


def expected_outcomes(numbers: list[str]) -> tuple[Counter[str], Counter[str]]:
    """(final outcome per contact, outcome per attempt) that the carrier and retries call for."""
    final, attempts = Counter[str](), Counter[str]()
    for number in numbers:
        final[FINAL[number[0]]] += 1
        attempts[ATTEMPT_OUTCOME[number[0]]] += ATTEMPTS[number[0]]
    return final, attempts


def make_project(folder: Path, gateway: str, numbers: list[str], args: argparse.Namespace) -> None:
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.test.yaml", "carrier.xml"))
    service = folder / "service.yaml"
    text = service.read_text()
    for old, new in {
        "127.0.0.1:5090": gateway,
        "channels: 20": f"channels: {args.concurrent + 4}",
        "max_concurrent: 10": f"max_concurrent: {args.concurrent}",
        "calls_per_second: 5": f"calls_per_second: {args.cps}",
        "after: 5s": f"after: {args.retry_after}s",
    }.items():
        assert old in text, f"examples/outbound/service.yaml no longer has {old!r}"
        text = text.replace(old, new)
    service.write_text(text)
    rows = "".join(f"{number},Customer {number}\n" for number in numbers)
    (folder / "contacts.csv").write_text("phone,name\n" + rows)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        body: dict[str, object] = json.load(reply)
        return body


@dataclass
class Sampler:
    """Samples the trunk's outbound calls twice a second while the run goes on."""

    url: str
    trunk: str = "carrier"
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (time, calls up, attempts)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, run_id: str) -> None:
        while not self.stop.is_set():
            overview = get(self.url + "/campaigns")
            trunks = overview["trunks"]
            assert isinstance(trunks, dict)
            progress = get(self.url + f"/campaigns/runs/{run_id}")
            attempts = progress["attempts"]
            assert isinstance(attempts, int)
            self.samples.append((time.monotonic(), int(trunks[self.trunk]["outbound"]), attempts))
            self.stop.wait(0.5)

    def best_window_rate(self, seconds: float = 10.0) -> float:
        best = 0.0
        for i, (start, _, attempts0) in enumerate(self.samples):
            for end, _, attempts1 in self.samples[i + 1 :]:
                if end - start >= seconds:
                    best = max(best, (attempts1 - attempts0) / (end - start))
                    break
        return best


def campaign(url: str, *args: str) -> str:
    done = subprocess.run(
        [str(IVR), "campaign", *args, "--server", url], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--mix", choices=sorted(MIXES), default="issue")
    parser.add_argument("--concurrent", type=int, default=100, help="the campaign's max_concurrent")
    parser.add_argument("--cps", type=float, default=40, help="the campaign's calls_per_second")
    parser.add_argument("--retry-after", type=int, default=2, help="seconds before a retry")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="campaign-dial-") as scratch:
        return _run(Path(scratch), args)


def _run(work: Path, args: argparse.Namespace) -> int:
    numbers = contact_numbers(MIXES[args.mix], args.contacts)
    carrier_dir = work / "carrier"
    make_voices(carrier_dir)
    port = free_udp_port()
    log = (work / "carrier.out").open("wb")
    carrier = subprocess.Popen(command(port, free_udp_port()), cwd=carrier_dir, stdout=log, stderr=log)
    make_project(work / "project", f"127.0.0.1:{port}", numbers, args)
    http = free_tcp_port()
    url = f"http://127.0.0.1:{http}"
    server_log = (work / "server.log").open("wb")
    server = subprocess.Popen(
        [
            *(str(IVR), "serve", "--flows", str(work / "project"), "--data-dir", str(work / "data")),
            *("--agents", "none", "--sip-port", str(free_udp_port()), "--http-port", str(http)),
            "--no-overload-control",
        ],
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(url, server, work)
        return _measure(url, server.pid, numbers, args, work)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        carrier.terminate()
        carrier.wait(10)


def _wait_healthy(url: str, server: subprocess.Popen[bytes], work: Path) -> None:
    for _ in range(1200):
        if server.poll() is not None:
            raise SystemExit("ivr serve exited:\n" + (work / "server.log").read_text()[-3000:])
        try:
            health = get(url + "/health")
            done, total = str(health["prompts_prerendered"]).split("/")
            if health["status"] == "ok" and done == total:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("ivr serve was not healthy in 120 s")


def _measure(url: str, pid: int, numbers: list[str], args: argparse.Namespace, work: Path) -> int:
    campaign(url, "create", "broadcast", "--run", "bench")
    sampler = Sampler(url)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    campaign(url, "start", "bench")
    thread = threading.Thread(target=sampler.run, args=("bench",), daemon=True)
    thread.start()
    progress: dict[str, object] = {}
    while time.monotonic() - t0 < args.timeout:
        progress = get(url + "/campaigns/runs/bench")
        if progress["state"] in ("completed", "stopped"):
            break
        time.sleep(0.5)
    wall, cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
    sampler.stop.set()
    thread.join()
    final, per_attempt = expected_outcomes(numbers)
    attempts = int(str(progress["attempts"]))
    up = [calls for _, calls, _ in sampler.samples] or [0]
    channels = args.concurrent + 4
    best = sampler.best_window_rate()
    print(f"contacts {len(numbers)} ({args.mix} mix), max_concurrent {args.concurrent}, {args.cps} calls/s")
    print(f"run {progress['state']} in {wall:.1f} s: {attempts} attempts")
    print(f"dial rate: {attempts / wall:.1f} attempts/s over the run, {best:.1f}/s best 10 s")
    mean = sum(up) / len(up)
    print(f"channels: most {max(up)} outbound calls up, mean {mean:.1f}, of {channels} on the trunk")
    per_attempt_ms = 1000 * cpu / max(attempts, 1)
    share = 100 * cpu / wall
    print(f"server CPU: {cpu:.1f} s, {per_attempt_ms:.1f} ms per attempt, {share:.0f} % of one core")
    print(f"final outcomes {dict(progress['final_outcomes'])}")  # type: ignore[call-overload]
    print(f"attempt outcomes {dict(progress['attempt_outcomes'])}")  # type: ignore[call-overload]
    ok = progress["final_outcomes"] == dict(final) and progress["attempt_outcomes"] == dict(per_attempt)
    if not ok:
        print(f"MISMATCH: expected final {dict(final)}, attempts {dict(per_attempt)} (logs in {work})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
