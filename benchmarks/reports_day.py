"""Benchmark: a day's reports over 100,000 call records, and call-record writes while one runs.

Run: .venv/bin/python benchmarks/reports_day.py [--calls 100000] [--dir PATH] [--keep]

1. Generates one day of calls into a records database (SqliteCallRecords' own schema, rows
   inserted directly for speed): calls spread over 08:00-20:00 UTC across 2 tenants, 3
   flows and 4 queues; every call walks 3-5 nodes (node_entered/node_left, ~10 lines);
   40 % reach a queue (offered, connected, ended; 8 % of those abandon) with 50 agents'
   sessions.
2. Times `read_inputs` + `compute` for the day in 15-minute intervals, by tenant, queue,
   flow, agent and node (each in a fresh read-only connection, as `ivr report` does).
3. Measures the latency of call-record writes (an event awaited until committed, as a call
   does) with no report running, then while `ivr report` runs over and over in another
   process on the same file (SQLite's WAL lets readers and the writer go on together).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

from ivr.adapters.reports import ReportQuery, compute, read_inputs
from ivr.adapters.reports.sqlite import open_database
from ivr.adapters.storage import open_sqlite_call_records
from ivr.adapters.storage.codec import encode_detail, encode_time
from ivr.runtime.ports import CallEvent

DAY = datetime(2026, 12, 1, tzinfo=UTC)
FLOWS = ("main", "orders", "funds")
QUEUES = ("general", "orders", "vip", "funds")
TENANTS = ("bank", "broker")


def generate(path: Path, calls: int, seed: int = 7) -> int:
    """Write `calls` calls of one day; the number of record lines written."""

    async def create() -> None:
        async with open_sqlite_call_records(path):
            pass

    trio.run(create)  # the real schema and its migrations
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    call_rows: list[tuple[object, ...]] = []
    event_rows: list[tuple[object, ...]] = []
    for n in range(calls):
        call_id = f"c{n:06d}"
        start = DAY + timedelta(hours=8, seconds=rng.uniform(0, 12 * 3600))
        tenant, flow = rng.choice(TENANTS), rng.choice(FLOWS)
        at = start
        lines: list[tuple[str, datetime, str | None, dict[str, object]]] = []
        for step in range(rng.randint(3, 5)):
            node = f"n{step}"
            lines.append(("node_entered", at, node, {"flow": flow}))
            at += timedelta(seconds=rng.uniform(2, 20))
            lines.append(("node_left", at, node, {"flow": flow, "edge": rng.choice(("1", "2", "next"))}))
        how = "completed"
        if rng.random() < 0.4:
            queue, agent = rng.choice(QUEUES), f"a{rng.randrange(50)}"
            lines.append(("node_entered", at, "agent", {"flow": flow}))
            wait = timedelta(seconds=rng.expovariate(1 / 25))
            if rng.random() < 0.08:
                lines.append(
                    (
                        "agent_call_ended",
                        at + wait,
                        None,
                        {"agent": None, "queue": queue, "outcome": "abandoned"},
                    )
                )
                how, at = "caller_hangup", at + wait
            else:
                lines.append(("agent_offered", at + wait, None, {"agent": agent, "queue": queue}))
                at += wait + timedelta(seconds=3)
                lines.append(("agent_connected", at, None, {"agent": agent, "queue": queue}))
                at += timedelta(seconds=rng.uniform(30, 400))
                lines.append(("queue", at, "agent", {"queue": queue, "outcome": "completed"}))
                lines.append(
                    ("agent_call_ended", at, None, {"agent": agent, "queue": queue, "outcome": "completed"})
                )
        call_rows.append(
            (call_id, flow, "138", "95500", encode_time(start), encode_time(at), how, tenant, "v1")
        )
        event_rows.extend((call_id, k, encode_time(t), node, encode_detail(d)) for k, t, node, d in lines)
    evening = encode_time(DAY + timedelta(hours=20))
    with conn:
        conn.executemany(
            "INSERT INTO calls (call_id, flow, caller, dialed, started_at, ended_at, how, tenant, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            call_rows,
        )
        conn.executemany(
            "INSERT INTO events (call_id, kind, at, node, detail) VALUES (?, ?, ?, ?, ?)", event_rows
        )
        conn.executemany(
            "INSERT INTO agent_sessions (tenant, agent, login_at, seen_at, logout_at) VALUES (?, ?, ?, ?, ?)",
            [
                (TENANTS[a % 2], f"a{a}", encode_time(DAY + timedelta(hours=8)), evening, evening)
                for a in range(50)
            ],
        )  # fmt: skip
    conn.close()
    return len(event_rows)


def time_reports(path: Path) -> dict[str, float]:
    seconds = {}
    for by in ("tenant", "queue", "flow", "agent", "node"):
        query = ReportQuery(DAY, DAY + timedelta(days=1), "15m", by)
        started = time.perf_counter()
        conn = open_database(path)
        try:
            report = compute(read_inputs(conn, query), query)
        finally:
            conn.close()
        seconds[by] = time.perf_counter() - started
        print(f"  by {by:6}: {seconds[by]:6.2f} s, {len(report.rows):5} rows", flush=True)
    return seconds


async def write_latencies(path: Path, writes: int) -> list[float]:
    """Milliseconds per awaited event write (one call writing, as the engine does)."""
    latencies = []
    async with open_sqlite_call_records(path) as records:
        call_id = f"probe-{time.monotonic_ns()}"
        await records.call_started(call_id, flow="main", caller="1", dialed="2", at=datetime.now(UTC))
        for i in range(writes):
            started = time.perf_counter()
            await records.call_event(
                CallEvent(call_id, "node_entered", datetime.now(UTC), f"n{i}", {"flow": "main"})
            )
            latencies.append((time.perf_counter() - started) * 1000)
            await trio.sleep(0.01)
        await records.call_ended(call_id, how="completed", at=datetime.now(UTC))
    return latencies


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = (args.dir or Path(tmp)) / "calls.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        started = time.perf_counter()
        lines = generate(path, args.calls)
        size = path.stat().st_size / 1e6
        print(
            f"generated {args.calls:,} calls, {lines:,} record lines, {size:.0f} MB"
            f" in {time.perf_counter() - started:.1f} s"
        )
        print("a day's reports in 15-minute intervals (read + compute):")
        seconds = time_reports(path)
        print(f"  all five: {sum(seconds.values()):.2f} s")
        quiet = trio.run(write_latencies, path, args.writes)
        print(f"record writes, no report running:      {summary(quiet)}")
        ivr = str(Path(sys.executable).with_name("ivr"))
        command = [ivr, "report", "--db", str(path), "--from", "2026-12-01", "--to", "2026-12-01",
                   "--interval", "15m", "--by", "node", "--output", "json"]  # fmt: skip
        with subprocess.Popen(
            ["bash", "-c", 'while "$@" > /dev/null; do :; done', "loop", *command]
        ) as looping:
            time.sleep(2)  # the report is reading by now
            try:
                busy = trio.run(write_latencies, path, args.writes)
            finally:
                looping.terminate()
        print(f"record writes, ivr report running:     {summary(busy)}")
        print(json.dumps({"calls": args.calls, "report_seconds": seconds}))
        if args.keep:
            print(f"kept {path}")


if __name__ == "__main__":
    main()
