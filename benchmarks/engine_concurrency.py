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

`--split` also separates what a call costs once (its task, start and end records, its
first nodes) from what each further node costs: a second set of runs has every caller
replay the answer `--replays` times (each replay is two more steps, the `say` and the
waiting menu), and the difference in CPU over the difference in steps is the cost of a
step. Beside it, `--floor` runs bare trio calls of the same shape (a task per call; six
nodes, each a check, two record lines with a timestamp and an await; one timed wait that
times out; a shielded end), so the engine's cost is also given as a ratio to what trio
alone needs, measured in the same process a moment apart.
"""

from __future__ import annotations

import argparse
import gc
import sys
import textwrap
import time
import tracemalloc
from collections.abc import Awaitable, Callable
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


async def bench(calls: int, clock: trio.testing.MockClock, trace: bool, replays: int = 0) -> dict[str, float]:
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
            leg.press("1600519#" + "1" * replays)
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
        "cpu": cpu,
    }


async def floor(calls: int, clock: trio.testing.MockClock) -> dict[str, float]:
    """Bare trio, the benchmark's shape without the engine: what any trio server of one task
    per call pays for the same six nodes, fourteen timestamped record lines and one timeout."""
    lines: list[tuple[str, int, datetime]] = []

    async def write(kind: str, number: int) -> None:
        lines.append((kind, number, datetime.now(UTC)))

    async def call(number: int) -> None:
        await write("call_started", number)
        for _ in range(5):  # five nodes that do not wait (type-ahead, a lookup, a prompt)
            await trio.lowlevel.checkpoint_if_cancelled()
            await write("node_entered", number)
            await trio.lowlevel.checkpoint_if_cancelled()
            await write("node_left", number)
        await write("node_entered", number)  # the waiting menu: a timer that runs out
        with trio.move_on_after(60):
            await trio.sleep_forever()
        await write("node_left", number)
        with trio.CancelScope(shield=True):
            await write("call_ended", number)

    gc.collect()
    cpu_started = time.process_time()
    async with trio.open_nursery() as nursery:
        for number in range(calls):
            nursery.start_soon(call, number)
        await trio.testing.wait_all_tasks_blocked()
        clock.jump(61)
    cpu = time.process_time() - cpu_started
    return {"steps": 6 * calls, "steps_per_cpu_second": 6 * calls / cpu, "cpu": cpu}


def best_of(
    repeat: int, run: Callable[[trio.testing.MockClock], Awaitable[dict[str, float]]]
) -> dict[str, float]:
    """The run with the most steps per CPU second of `repeat`, each on its own clock."""
    runs = []
    for _ in range(repeat):
        clock = trio.testing.MockClock()
        runs.append(trio.run(run, clock, clock=clock))
        gc.collect()
    return max(runs, key=lambda result: result["steps_per_cpu_second"])


def print_split(base: dict[str, float], replayed: dict[str, float], calls: int) -> None:
    """The cost of one more step, and of a call apart from its steps (from two sets of runs)."""
    per_step = (replayed["cpu"] - base["cpu"]) / (replayed["steps"] - base["steps"])
    per_call = base["cpu"] / calls - per_step * base["steps"] / calls
    print(
        f"a further step:          {per_step * 1e6:.1f} µs of CPU ({1 / per_step:,.0f} steps per CPU second; "
        f"{int(replayed['steps'] / calls)} steps a call against {int(base['steps'] / calls)})"
    )
    print(f"a call apart from steps: {per_call * 1e6:.0f} µs of CPU (task, start and end records, leg)")


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
    parser.add_argument("--split", action="store_true", help="also the cost of a further step and of a call")
    parser.add_argument("--replays", type=int, default=20, help="with --split: replays a caller asks for")
    parser.add_argument("--floor", action="store_true", help="also bare trio calls of the same shape")
    args = parser.parse_args()
    if args.gc == "server":
        from ivr.adapters.hosting.gcpolicy import tune_for_serving

        tune_for_serving()
    result = best_of(args.repeat, lambda clock: bench(args.calls, clock, False))
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
    if args.split:
        replayed = best_of(args.repeat, lambda clock: bench(args.calls, clock, False, args.replays))
        print_split(result, replayed, args.calls)
    if args.floor:
        bare = best_of(args.repeat, lambda clock: floor(args.calls, clock))
        print(
            f"bare trio, same shape:   {bare['steps_per_cpu_second']:,.0f} steps per CPU second "
            f"(the engine costs {bare['steps_per_cpu_second'] / result['steps_per_cpu_second']:.1f}x as much)"
        )
    print(f"python {sys.version.split()[0]}, trio {trio.__version__}; garbage collector: {args.gc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
