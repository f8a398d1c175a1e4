"""`ivr simulate TARGET`: walk through a flow in the terminal with the keypad.

The composition root of a simulated call: it loads the project, picks the flow (a flow
file, a folder plus a flow name, or a folder plus `--number`), chooses the data
operations (the service's real ones from `ivr.adapters.data`, or `--fixtures FILE`) and
feeds stdin to `ivr.runtime.simulator`. Works without a TTY: pipe the keys in.
Exit status: 0 the call completed, 1 it failed or the flows have errors, 2 usage problems.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

import trio

from ivr.flowlang.diagnostics import render
from ivr.flowlang.ir import Project
from ivr.flowlang.project import load_project
from ivr.runtime.context import SystemClock
from ivr.runtime.flowtest.loader import load_fixtures_file
from ivr.runtime.ports import DataOperations, WallClock
from ivr.runtime.simulator import TerminalLeg, simulate
from ivr.runtime.testing import FixtureOperations, ScriptedRouting, VirtualWallClock


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET", help="a flow file, or a folder of flows")
    parser.add_argument("flow", nargs="?", help="the flow to run when TARGET is a folder")
    parser.add_argument("--number", help="run the flow the service answers this dialed number with")
    parser.add_argument("--lang", help="prompt language (default: the flow's first)")
    parser.add_argument("--caller", default="13800000000", help="the caller's number")
    parser.add_argument("--fast", action="store_true", help="silence takes no time (timeouts fire at once)")
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
    data = _data_operations(project, folder, args.fixtures)
    if data is None:
        return 1
    clock: WallClock = VirtualWallClock(datetime.fromisoformat(args.at)) if args.at else SystemClock()
    return trio.run(_call, project, flow, data, clock, args)


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


def _data_operations(project: Project, folder: Path, fixtures_file: str | None) -> DataOperations | None:
    if fixtures_file:
        fixtures, problems = load_fixtures_file(fixtures_file)
        for problem in problems:
            print(
                render(problem, {fixtures_file: Path(fixtures_file).read_text(encoding="utf-8")}),
                file=sys.stderr,
            )
        if fixtures is None:
            return None
        return FixtureOperations({k: list(v) for k, v in fixtures.operations.items()})
    if project.service is None or not project.service.operations:
        return FixtureOperations()
    from ivr.adapters.data import ConfigurationError, ServiceOperations

    try:
        return ServiceOperations.from_service(project.service, base_dir=folder)
    except ConfigurationError as exc:
        print(f"ivr simulate: the service's operations cannot be used: {exc}", file=sys.stderr)
        return None


async def _call(
    project: Project, flow: str, data: DataOperations, clock: WallClock, args: argparse.Namespace
) -> int:
    def write(text: str) -> None:
        print(text, flush=True)

    async def read_line() -> str | None:
        line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        return line.rstrip("\r\n") if line else None

    leg = TerminalLeg(read_line, write, caller=args.caller, dialed=args.number or "", fast=args.fast)
    outcome = await simulate(
        project, flow, leg, write, data=data, clock=clock, language=args.lang, routing=ScriptedRouting()
    )
    return 1 if outcome.how == "failed" else 0
