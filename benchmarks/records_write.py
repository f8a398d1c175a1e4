"""Benchmark: call-record events per second into SqliteCallRecords (WAL, synchronous=FULL).

Run: .venv/bin/python benchmarks/records_write.py [--calls 50] [--events 200] [--dir PATH]

Every write returns only once committed, so the figures include the fsync. Three shapes:
- sequential: one call, each event awaited before the next (one commit per event);
- concurrent, group commit: many calls at once share commits (the default writer);
- concurrent, max_batch=1: the same load with one commit per write, for comparison.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import trio

from ivr.adapters.storage import SqliteCallRecords, open_sqlite_call_records
from ivr.runtime.ports import CallEvent

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


async def one_call(records: SqliteCallRecords, call_id: str, events: int) -> None:
    await records.call_started(call_id, flow="main", caller="13800138000", dialed="95500", at=NOW)
    for i in range(events):
        detail = {"digits": str(i % 10), "node": f"n{i}"}
        await records.call_event(CallEvent(call_id, "node_entered", NOW, f"n{i}", detail))
    await records.call_ended(call_id, how="completed", at=NOW)


async def run(path: Path, *, calls: int, events: int, max_batch: int) -> tuple[float, int]:
    async with open_sqlite_call_records(path, max_batch=max_batch) as records:
        start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for n in range(calls):
                nursery.start_soon(one_call, records, f"{path.stem}-{n}", events)
        elapsed = time.perf_counter() - start
        return calls * (events + 2) / elapsed, records.writer.batches


async def main(directory: Path, calls: int, events: int) -> None:
    shapes = [
        ("sequential (1 call)", 1, events, 256),
        (f"concurrent ({calls} calls), group commit", calls, events, 256),
        (f"concurrent ({calls} calls), max_batch=1", calls, events // 4, 1),
    ]
    for i, (label, n_calls, n_events, max_batch) in enumerate(shapes):
        rate, batches = await run(
            directory / f"bench{i}.db", calls=n_calls, events=n_events, max_batch=max_batch
        )
        writes = n_calls * (n_events + 2)
        print(f"{label:45s} {rate:9.0f} writes/s   ({writes} writes in {batches} commits)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        trio.run(main, Path(tmp), args.calls, args.events)
