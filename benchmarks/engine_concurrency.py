"""Benchmark: many concurrent calls in one process through a menu, a collect and a lookup.

Every call presses "1" and "600519#", waits for a data lookup, hears the answer, then
waits in a menu for a key (a "waiting call"). Reports the calls held at once, node steps
per second and the memory each waiting call holds (tracemalloc, engine + memory leg).

Steps are counted from the records (`node_entered` events: 6 a call). Throughput is given
per CPU second of this process (the machine is shared, so wall time also measures the
neighbours) and per wall second, the best of `--repeat` runs. Only the calls are timed:
the garbage collection and tracemalloc snapshot for the memory figure run in a separate,
untimed pass.

    .venv/bin/python benchmarks/engine_concurrency.py --calls 10000 [--gc server]

To compare two versions of the engine on a shared machine, alternate single runs of each
(`--repeat 1`, several times) and compare medians; `PYTHONPATH=<other checkout>/src` runs
another checkout's engine with this virtualenv (docs/design.md, "Engine cost").
"""

from __future__ import annotations

import argparse
import gc
import sys
import textwrap
import time
import tracemalloc
from datetime import UTC, datetime

import trio
import trio.testing

from ivr.flowlang.compile import compile_flow, compile_service
from ivr.flowlang.ir import Project
from ivr.flowlang.yamlsource import load_yaml
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import Engine
from ivr.runtime.ports import CallEvent
from ivr.runtime.testing import (
    Fixture,
    FixtureOperations,
    MemoryCallLeg,
    MemoryCallRecords,
    MemoryChannels,
    OperationCall,
    ScriptedRouting,
    VirtualWallClock,
)

FLOW = """
flow: bench
languages: [en]
variables:
  code: {type: string}
  name: {type: string}
start: menu
nodes:
  menu:
    type: menu
    prompt: For quotes press 1
    options: {"1": ask}
    on_no_input: bye
    on_no_match: bye
  ask:
    type: collect
    prompt: Enter the code then hash
    into: code
    min_length: 6
    max_length: 6
    terminator: "#"
    next: fetch
    on_no_input: bye
    on_invalid: bye
  fetch:
    type: lookup
    operation: get_quote
    args: {code: code}
    assign: {name: result.name}
    next: read
    on_error: bye
  read:
    type: say
    prompt: "{name}"
    next: wait
  wait:
    type: menu
    prompt: Press 1 to hear it again
    timeout: 60s
    max_retries: 0
    options: {"1": read}
    on_no_input: bye
    on_no_match: bye
  bye: {type: hangup, prompt: Goodbye}
"""
SERVICE = """
service: bench
languages: [en]
operations:
  get_quote: {backend: python, function: "x:y", params: [code], returns: [name]}
"""


def build_project() -> Project:
    loaded = load_yaml(textwrap.dedent(FLOW), "bench.yaml")
    flow, _ = compile_flow(loaded.data, loaded.source_map, "bench.yaml")
    svc_loaded = load_yaml(textwrap.dedent(SERVICE), "service.yaml")
    service, _ = compile_service(svc_loaded.data, svc_loaded.source_map, "service.yaml")
    assert flow is not None and service is not None
    return Project({"bench": flow}, service, {})


async def bench(calls: int, clock: trio.testing.MockClock, trace: bool) -> dict[str, float]:
    operations = FixtureOperations({"get_quote": [Fixture(result={"name": "Moutai"})]})
    steps = _StepCounter()
    records = MemoryCallRecords(keep_events=False, on_event=steps)
    ports = CallPorts(
        operations, MemoryChannels(), ScriptedRouting(), records, VirtualWallClock(datetime.now(UTC))
    )
    engine = Engine(build_project(), ports)
    operations.calls = _Discard()
    gc.collect()
    if trace:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    legs: list[MemoryCallLeg] = []
    async with trio.open_nursery() as nursery:
        for number in range(calls):
            leg = MemoryCallLeg(call_id=f"c{number}", seconds_per_char=0)
            leg.press("1600519#")
            legs.append(leg)
            nursery.start_soon(engine.run_call, leg, "bench")
        await trio.testing.wait_all_tasks_blocked()
        held = sum(1 for leg in legs if leg.reads >= 3 and not leg.ended)
        setup = time.perf_counter() - started
        during = before
        if trace:  # the memory run only: its timing is not reported
            gc.collect()
            during = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
        clock.jump(61)  # every waiting menu times out; calls say goodbye and end
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "calls": calls,
        "held": held,
        "steps": steps.count,
        "bytes_per_call": (during - before) / calls,
        "steps_per_second": steps.count / elapsed,
        "steps_per_cpu_second": steps.count / cpu,
        "seconds_to_hold": setup,
        "seconds_total": elapsed,
        "ended": len(records.ended),
    }


class _StepCounter:
    """Counts node steps as the records see them (each `node_entered` event is one step)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, event: CallEvent) -> None:
        if event.kind == "node_entered":
            self.count += 1


class _Discard(list[OperationCall]):
    """The fixture's call log, disabled: a benchmark must not measure its own bookkeeping."""

    def append(self, _: OperationCall) -> None:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is reported")
    parser.add_argument(
        "--gc",
        choices=("default", "server"),
        default="default",
        help="Python's collector as it comes, or as `ivr serve` sets it (adapters/hosting/gcpolicy.py)",
    )
    args = parser.parse_args()
    if args.gc == "server":
        from ivr.adapters.hosting.gcpolicy import tune_for_serving

        tune_for_serving()
    runs = []
    for _ in range(args.repeat):
        clock = trio.testing.MockClock()
        runs.append(trio.run(bench, args.calls, clock, False, clock=clock))
        gc.collect()
    result = max(runs, key=lambda run: run["steps_per_cpu_second"])
    clock = trio.testing.MockClock()
    result["bytes_per_call"] = trio.run(bench, args.calls, clock, True, clock=clock)["bytes_per_call"]
    print(f"calls started:           {int(result['calls']):,}")
    print(f"held at once (waiting):  {int(result['held']):,}")
    print(f"memory per waiting call: {result['bytes_per_call'] / 1024:.1f} KiB (tracemalloc, second run)")
    print(
        f"node steps per second:   {result['steps_per_cpu_second']:,.0f} per CPU second, "
        f"{result['steps_per_second']:,.0f} per wall second (best of {args.repeat}; "
        f"{int(result['steps']):,} steps, {result['steps'] / result['calls']:.0f} a call)"
    )
    print(f"time to hold them all:   {result['seconds_to_hold']:.2f} s; all ended: {int(result['ended']):,}")
    print(f"python {sys.version.split()[0]}, trio {trio.__version__}; garbage collector: {args.gc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
