"""Fault injection, the long run: every kind of fault over 1,000 calls (default) each.

    .venv/bin/python scripts/fault_runs.py                 # 1,000 calls per kind
    .venv/bin/python scripts/fault_runs.py --calls 200 --kinds op_raise,records_full

The engine with the real adapters (tests/faults/fault_harness.py says which and how the
faults are injected); every call must end on a declared path with a complete record, the
SQLite files must pass integrity_check and no call may escape the engine, else the run
stops with the broken invariant. Prints one Markdown row per kind (the README's table).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "faults"))

from fault_harness import KINDS, Report, environment_ready, run_kind  # noqa: E402


def row(report: Report) -> str:
    endings = ", ".join(f"{how} {n}" for how, n in sorted(report.endings.items()))
    paths = len(report.paths)
    backlog = report.records_backlog_peak
    return (
        f"| {report.kind} | {report.calls} | {endings} | {paths} | {report.escaped} | "
        f"{backlog} | {report.seconds:.1f} s |"
    )


async def main(calls: int, kinds: list[str], concurrency: int) -> int:
    print(
        "| fault | calls | ended | declared paths taken | escaped the engine | records backlog peak | wall |"
    )
    print("|---|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="ivr-faults-") as tmp:
        tts = Path(tmp) / "tts"
        for kind in kinds:
            report = await run_kind(kind, calls, Path(tmp) / kind, concurrency=concurrency, tts=tts)
            print(row(report), flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--kinds", default=",".join(sorted(KINDS)))
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    if problem := environment_ready():
        sys.exit(f"fault_runs: {problem}")
    sys.exit(trio.run(main, args.calls, [k for k in args.kinds.split(",") if k], args.concurrency))
