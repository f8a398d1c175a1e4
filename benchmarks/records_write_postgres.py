"""Benchmark: call-record writes per second into PostgresCallRecords, beside SQLite's figures
(`benchmarks/records_write.py`).

Run: .venv/bin/python benchmarks/records_write_postgres.py [--calls 50] [--events 200] [--pool 4]

Starts a throwaway PostgreSQL (`ivr.adapters.postgres.server`, fsync on: durable as in
production) on a free port in a temp folder, and writes through the store as a server does:
every write is one transaction committed before it returns. Two shapes:
- sequential: one call, each event awaited before the next (one commit per event);
- concurrent: many calls at once, `--pool` connections committing in parallel (PostgreSQL
  shares WAL flushes between concurrent commits).
Needs a quiet machine for meaningful figures.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import trio

from ivr.adapters.postgres.records import PostgresCallRecords, open_postgres_call_records
from ivr.adapters.postgres.server import create_database, start_server
from ivr.runtime.ports import CallEvent

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


async def one_call(records: PostgresCallRecords, call_id: str, events: int) -> None:
    await records.call_started(call_id, flow="main", caller="13800138000", dialed="95500", at=NOW)
    for i in range(events):
        detail = {"digits": str(i % 10), "node": f"n{i}"}
        await records.call_event(CallEvent(call_id, "node_entered", NOW, f"n{i}", detail))
    await records.call_ended(call_id, how="completed", at=NOW)


async def run(url: str, label: str, *, calls: int, events: int, pool: int) -> None:
    async with open_postgres_call_records(url, size=pool) as records:
        start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for n in range(calls):
                nursery.start_soon(one_call, records, f"{label}-{n}", events)
        elapsed = time.perf_counter() - start
    writes = calls * (events + 2)
    print(f"{label:45s} {writes / elapsed:9.0f} writes/s   ({writes} writes, {pool} connections)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(calls: int, events: int, pool: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ivr-pg-bench-") as folder:
        server = start_server(Path(folder), port=free_port(), durable=True)
        try:
            url = create_database(server, "bench")
            trio.run(lambda: run(url, "sequential (1 call)", calls=1, events=events, pool=pool))
            trio.run(lambda: run(url, f"concurrent ({calls} calls)", calls=calls, events=events, pool=pool))
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--pool", type=int, default=4, help="connections of the store (4, as ivr serve)")
    args = parser.parse_args()
    main(args.calls, args.events, args.pool)
