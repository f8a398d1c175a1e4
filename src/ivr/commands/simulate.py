"""`ivr simulate TARGET`: walk through a flow in the terminal with the keypad.

The composition root of a simulated call: it loads the project, picks the flow (a flow
file, a folder plus a flow name, or a folder plus `--number`), chooses the data
operations (the service's real ones from `ivr.adapters.data`, or `--fixtures FILE`, whose
`queues:` and `channels:` answer too) and feeds stdin to `ivr.runtime.simulator`. Stdin is
read with `os.read` in a worker thread (no buffered-file lock that a pending read could
hold at exit), so timeouts pass in real time while nobody types. Works without a TTY:
pipe the keys in.
Exit status: 0 the call completed, 1 it failed or the flows have errors, 2 usage problems.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

import trio

from ivr.flowlang.diagnostics import render
from ivr.flowlang.ir import Project
from ivr.flowlang.project import load_project
from ivr.runtime.context import SystemClock
from ivr.runtime.flowtest.loader import load_fixtures_file
from ivr.runtime.flowtest.model import Fixtures
from ivr.runtime.ports import DataOperations, WallClock
from ivr.runtime.simulator import TerminalLeg, simulate
from ivr.runtime.testing import FixtureOperations, MemoryChannels, ScriptedRouting, VirtualWallClock


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET", help="a flow file, or a folder of flows")
    parser.add_argument("flow", nargs="?", help="the flow to run when TARGET is a folder")
    parser.add_argument("--number", help="run the flow the service answers this dialed number with")
    parser.add_argument("--lang", help="prompt language (default: the flow's first)")
    parser.add_argument("--caller", default="13800000000", help="the caller's number")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="no real-time timeouts: reads wait for a line, an empty line is silence at once",
    )
    parser.add_argument("--fixtures", metavar="FILE", help="answer data operations from a fixtures file")
    parser.add_argument("--at", help="wall clock for schedules, e.g. 2026-11-27T10:00:00+08:00")


def run(args: argparse.Namespace) -> int:
    target = Path(args.target)
    if not target.exists():
        print(f"ivr simulate: {target}: no such file or folder", file=sys.stderr)
        return 2
    folder = target.parent if target.is_file() else target
    project, diagnostics = load_project([str(folder)])
    errors = [d for d in diagnostics if d.is_error]
    for diagnostic in errors:
        print(render(diagnostic, project.sources), file=sys.stderr)
    if errors:
        return 1
    flow = _pick_flow(project, target, args)
    if flow is None:
        return 2
    fixtures = _fixtures(args.fixtures)
    if args.fixtures and fixtures is None:
        return 1
    data = _data_operations(project, folder, fixtures)
    if data is None:
        return 1
    clock: WallClock = VirtualWallClock(datetime.fromisoformat(args.at)) if args.at else SystemClock()
    return trio.run(_call, project, flow, data, clock, fixtures or Fixtures(), args)


def _pick_flow(project: Project, target: Path, args: argparse.Namespace) -> str | None:
    if args.number:
        routes = project.service.numbers if project.service else ()
        flow = next((r.flow for r in routes if r.number == args.number), None)
        if flow is None:
            print(f"ivr simulate: the service answers no number {args.number}", file=sys.stderr)
        return flow
    if args.flow or target.is_dir():
        if args.flow in project.flows:
            return str(args.flow)
        print(f"ivr simulate: name a flow: {', '.join(sorted(project.flows))}", file=sys.stderr)
        return None
    flow = next((f.name for f in project.flows.values() if Path(f.file).resolve() == target.resolve()), None)
    if flow is None:
        print(f"ivr simulate: {target} holds no flow", file=sys.stderr)
    return flow


def _fixtures(fixtures_file: str | None) -> Fixtures | None:
    if not fixtures_file:
        return None
    fixtures, problems = load_fixtures_file(fixtures_file)
    for problem in problems:
        print(
            render(problem, {fixtures_file: Path(fixtures_file).read_text(encoding="utf-8")}), file=sys.stderr
        )
    return fixtures


def _data_operations(project: Project, folder: Path, fixtures: Fixtures | None) -> DataOperations | None:
    if fixtures is not None:
        return FixtureOperations({k: list(v) for k, v in fixtures.operations.items()})
    if project.service is None or not project.service.operations:
        return FixtureOperations()
    from ivr.adapters.data import ConfigurationError, ServiceOperations

    try:
        return ServiceOperations.from_service(project.service, base_dir=folder)
    except ConfigurationError as exc:
        print(f"ivr simulate: the service's operations cannot be used: {exc}", file=sys.stderr)
        return None


class StdinLines:
    """Lines of a file descriptor (stdin), read in a worker thread so the call never waits
    on the keyboard; None at the end of input."""

    def __init__(self, fd: int = 0) -> None:
        self._fd = fd
        self._buffer = b""
        self._eof = False

    async def __call__(self) -> str | None:
        while b"\n" not in self._buffer and not self._eof:
            chunk = await trio.to_thread.run_sync(os.read, self._fd, 4096, abandon_on_cancel=True)
            self._eof = not chunk
            self._buffer += chunk
        if not self._buffer:
            return None
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", errors="replace").rstrip("\r")


async def _call(
    project: Project,
    flow: str,
    data: DataOperations,
    clock: WallClock,
    fixtures: Fixtures,
    args: argparse.Namespace,
) -> int:
    def write(text: str) -> None:
        print(text, flush=True)

    leg = TerminalLeg(StdinLines(), write, caller=args.caller, dialed=args.number or "", fast=args.fast)
    outcome = await simulate(
        project,
        flow,
        leg,
        write,
        data=data,
        clock=clock,
        language=args.lang,
        routing=ScriptedRouting(dict(fixtures.queues)),
        channels=MemoryChannels(failing=fixtures.failing_channels),
    )
    return 1 if outcome.how == "failed" else 0
