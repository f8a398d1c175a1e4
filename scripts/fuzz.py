"""The fuzzing campaign: many cases per target, each bounded in time and memory.

    .venv/bin/python scripts/fuzz.py --million --jobs 2      # the campaign in the README
    .venv/bin/python scripts/fuzz.py --cases 20000 --targets yaml,flow --jobs 2
    .venv/bin/python scripts/fuzz.py --replay flow:1:4711    # re-run one case, show input + traceback

The targets, their inputs and their contracts are `tests/fuzz/fuzz_targets.py` (the same
ones CI runs with hypothesis). Here each case's input comes from `RandomDraw` seeded with
(seed, target, case number), so every failure replays exactly. Cases run in worker
processes limited to --memory-mb of address space; a case past its target's time limit is a
failure (CaseTooSlow), and a worker silent for --hang-seconds is killed and the case recorded
as a hang. The report (failures grouped by where they were raised, cases per second, peak
memory) is printed as a Markdown table and written to --out/report.json; each failing input
is saved under --out/failures/. Ctrl-C (or SIGTERM) stops the campaign and still reports
the chunks that finished (exit 130).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fuzz"))


# Cases per target for a million in all, weighted by cost: a CTI message parses in 0.1 ms,
# a flow checks in 20-40 ms, a WebSocket session or a raw HTTP exchange takes 10-20 ms.
MILLION = {
    "cti_message": 300_000,
    "http_asgi": 185_000,
    "template": 150_000,
    "expression": 150_000,
    "yaml": 100_000,
    "flow": 30_000,
    "service": 15_000,
    "flow_test": 15_000,
    "hosting": 15_000,
    "cti_socket": 15_000,
    "editor_api": 15_000,
    "http_wire": 10_000,
}


@dataclass
class Chunk:
    target: str
    start: int
    count: int


@dataclass
class Tally:
    cases: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    slowest: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)


# -- worker ---------------------------------------------------------------------------------


def worker(target_name: str, seed: int, start: int, count: int, out: Path) -> None:
    """Run cases [start, start + count) of one target; one JSON line per event on stdout."""
    from fuzz_draw import RandomDraw
    from fuzz_limits import time_limit
    from fuzz_targets import BY_NAME

    target = BY_NAME[target_name]
    if target.warm_up is not None:
        target.warm_up()  # e.g. the in-process server, started before any case is timed
    emit({"ready": True})
    slowest = 0.0
    began = time.perf_counter()
    for case in range(start, start + count):
        emit({"case": case})
        value: Any = None
        try:
            value = target.generate(RandomDraw(f"{seed}:{target_name}:{case}"))
            t0 = time.perf_counter()
            with time_limit(target.time_limit):
                target.check(value)
            slowest = max(slowest, time.perf_counter() - t0)
        except BaseException as error:  # every failure is the campaign's finding
            if isinstance(error, KeyboardInterrupt):
                raise
            emit(_failure(target_name, seed, case, error, value, out))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit({"done": count, "seconds": time.perf_counter() - began, "rss_mb": rss, "slowest": slowest})


def _failure(
    target: str, seed: int, case: int, error: BaseException, value: Any, out: Path
) -> dict[str, Any]:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [
        f for f in frames if "/ivr/" in f.filename or "/flowlang/" in f.filename or "/adapters/" in f.filename
    ]
    where = ours[-1] if ours else (frames[-1] if frames else None)
    place = f"{Path(where.filename).name}:{where.lineno}" if where else "?"
    failures = out / "failures"
    failures.mkdir(parents=True, exist_ok=True)
    stem = f"{target}-{seed}-{case}"
    (failures / f"{stem}.txt").write_text(
        f"replay: scripts/fuzz.py --replay {target}:{seed}:{case}\n\ninput: {value!r}\n\n"
        + "".join(traceback.format_exception(error)),
        encoding="utf-8",
    )
    if isinstance(value, bytes):
        (failures / f"{stem}.bin").write_bytes(value)
    message = str(error).splitlines()[0][:200] if str(error) else ""
    return {"failure": f"{type(error).__name__} at {place}", "case": case, "message": message}


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def replay(spec: str) -> int:
    """Run one case again in this process and show its input and what happened."""
    from fuzz_draw import RandomDraw
    from fuzz_limits import time_limit
    from fuzz_targets import BY_NAME

    name, seed, case = spec.split(":")
    target = BY_NAME[name]
    value = target.generate(RandomDraw(f"{seed}:{name}:{case}"))
    print(f"input: {value!r}")
    with time_limit(target.time_limit):
        target.check(value)
    print("the case passes")
    return 0


# -- parent ---------------------------------------------------------------------------------


def run_campaign(args: argparse.Namespace) -> dict[str, Tally]:
    from fuzz_targets import BY_NAME, TARGETS

    names = [t.name for t in TARGETS] if args.targets == "all" else args.targets.split(",")
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown targets: {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    share = args.scale if args.million else 0.0
    cases = {name: int(MILLION.get(name, 10_000) * share) or args.cases for name in names}
    chunks = [
        Chunk(name, start, min(args.chunk, cases[name] - start))
        for name in names
        for start in range(0, cases[name], args.chunk)
    ]
    chunks.sort(key=lambda c: c.start)  # every target early, so a short run still sees them all
    tallies = {name: Tally() for name in names}
    running: list[_Worker] = []
    began = next_note = time.monotonic()
    try:
        while chunks or running:
            while chunks and len(running) < args.jobs:
                running.append(_Worker(chunks.pop(0), args))
            for w in list(running):
                if w.poll(tallies[w.chunk.target], chunks):
                    running.remove(w)
            if args.progress and time.monotonic() >= next_note:
                next_note += 60
                done = sum(t.cases for t in tallies.values())
                print(f"[{time.monotonic() - began:7.0f} s] {done:,} cases", file=sys.stderr, flush=True)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: report the chunks that finished
        for w in running:
            w.proc.kill()
            w.proc.wait()
        args.interrupted = True
    return tallies


def _worker_limits(address_space: int) -> None:
    """In a new worker: its memory limit; Ctrl-C is the parent's to handle (it kills us)."""
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class _Worker:
    """One worker process over one chunk; restarted after a hang or a hard crash."""

    def __init__(self, chunk: Chunk, args: argparse.Namespace) -> None:
        self.chunk, self.args = chunk, args
        self.current = chunk.start - 1
        self.last_heard = time.monotonic()
        limit = args.memory_mb * 1024 * 1024
        env = dict(os.environ, MALLOC_ARENA_MAX="2", PYTHONHASHSEED="0")
        command = [sys.executable, __file__, "--worker", chunk.target, str(args.seed), str(chunk.start)]
        self.proc = subprocess.Popen(
            [*command, str(chunk.count), "--out", str(args.out)],
            stdout=subprocess.PIPE,
            env=env,
            preexec_fn=lambda: _worker_limits(limit),
        )
        self.buffer = b""

    def poll(self, tally: Tally, chunks: list[Chunk]) -> bool:
        """Read what the worker said; True when it is finished (or was given up on)."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
        if ready:
            data = os.read(self.proc.stdout.fileno(), 1 << 16)
            if data:
                self.last_heard = time.monotonic()
                self.buffer += data
                *lines, self.buffer = self.buffer.split(b"\n")
                for line in lines:
                    if self._event(json.loads(line), tally):
                        self.proc.wait()
                        return True
                return False
            return self._ended(tally, chunks, "the worker died")
        if time.monotonic() - self.last_heard > self.args.hang_seconds:
            self.proc.kill()
            return self._ended(tally, chunks, f"no progress for {self.args.hang_seconds} s (killed)")
        return False

    def _event(self, event: dict[str, Any], tally: Tally) -> bool:
        if "failure" in event:
            tally.failures.append(event | {"target": self.chunk.target})
        elif "case" in event:
            self.current = event["case"]
        elif "done" in event:
            tally.cases += event["done"]
            tally.seconds += event["seconds"]
            tally.peak_rss_mb = max(tally.peak_rss_mb, event["rss_mb"])
            tally.slowest = max(tally.slowest, event["slowest"])
            return True
        return False

    def _ended(self, tally: Tally, chunks: list[Chunk], why: str) -> bool:
        """The worker stopped mid-chunk: record the case it was on, go on after it."""
        self.proc.wait()
        case = max(self.current, self.chunk.start)
        tally.failures.append({"target": self.chunk.target, "failure": why, "case": case, "message": ""})
        done = case - self.chunk.start + 1
        tally.cases += done
        rest = self.chunk.count - done
        if rest > 0:
            chunks.insert(0, Chunk(self.chunk.target, case + 1, rest))
        return True


def report(tallies: dict[str, Tally], args: argparse.Namespace, wall: float) -> str:
    from fuzz_targets import BY_NAME

    stopped = " (interrupted: the chunks that finished)" if getattr(args, "interrupted", False) else ""
    lines = [
        f"seed {args.seed}, {sum(t.cases for t in tallies.values()):,} cases in {wall / 60:.1f} min "
        f"({args.jobs} worker(s), {args.memory_mb} MB address space each){stopped}",
        "",
        "| target | entry point | cases | failures | cases/s | slowest case | peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, t in tallies.items():
        rate = t.cases / t.seconds if t.seconds else 0
        kinds = Counter(f["failure"] for f in t.failures)
        lines.append(
            f"| {name} | {BY_NAME[name].what} | {t.cases:,} | {len(t.failures)} | {rate:,.0f} | "
            f"{t.slowest * 1000:,.0f} ms | {t.peak_rss_mb:,.0f} MB |"
        )
        for kind, n in kinds.most_common():
            example = next(f for f in t.failures if f["failure"] == kind)
            lines.append(f"|  | {n} x {kind}: {example['message']} (case {example['case']}) | | | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", default="all", help="comma-separated target names (default: all)")
    parser.add_argument("--cases", type=int, default=100_000, help="cases per target")
    parser.add_argument("--million", action="store_true", help="a million cases, per target as in MILLION")
    parser.add_argument("--scale", type=float, default=1.0, help="with --million: this share of it")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes at a time")
    parser.add_argument("--chunk", type=int, default=5_000, help="cases per worker process")
    parser.add_argument("--memory-mb", type=int, default=2048, help="address-space limit of a worker")
    parser.add_argument("--hang-seconds", type=float, default=60.0, help="silence before a worker is killed")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "fuzz")
    parser.add_argument("--progress", action="store_true", help="print a line a minute on stderr")
    parser.add_argument("--replay", metavar="TARGET:SEED:CASE", help="re-run one case here")
    parser.add_argument(
        "--worker", nargs=4, metavar=("TARGET", "SEED", "START", "COUNT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker:
        name, seed, start, count = args.worker
        worker(name, int(seed), int(start), int(count), args.out)
        return 0
    if args.replay:
        return replay(args.replay)
    began = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)
    tallies = run_campaign(args)
    text = report(tallies, args, time.monotonic() - began)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {
        name: {"cases": t.cases, "failures": t.failures, "seconds": t.seconds} for name, t in tallies.items()
    }
    (args.out / "report.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if getattr(args, "interrupted", False):
        return 130
    return 1 if any(t.failures for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
