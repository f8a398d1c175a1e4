"""`ivr simulate TARGET`: walk through a flow in the terminal with the keypad.

It wires a simulated call: it loads the project, picks the flow (a flow
file, a folder plus a flow name, or a folder plus `--number`), chooses the data
operations (the service's real ones from `ivr.adapters.data`, or `--fixtures FILE`, whose
`queues:` and `channels:` answer too) and feeds stdin to `ivr.runtime.simulator`. Messages
stay in memory unless `--deliver` sends them through the service's channel gateways, as
`ivr serve` does (outbox in `--data-dir`), waiting up to `--deliver-wait` seconds after the
call for their results. Stdin is
read with `os.read` in a worker thread (no buffered-file lock that a pending read could
hold at exit), so timeouts pass in real time while nobody types. Works without a TTY:
pipe the keys in.
Exit status: 0 the call completed, 1 it failed or the flows have errors, 2 usage problems.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import termios
except ImportError:  # not on POSIX: typed keys are echoed as the console does
    termios = None  # type: ignore[assignment]

import trio

from ivr.adapters.errors import AdapterError
from ivr.commands import tenant_options
from ivr.flowlang.diagnostics import did_you_mean, render
from ivr.flowlang.ir import Project
from ivr.flowlang.project import load_project
from ivr.runtime.campaigns.trial import trial_call
from ivr.runtime.context import SystemClock
from ivr.runtime.engine import CallOutcome
from ivr.runtime.flowtest.loader import load_fixtures_file
from ivr.runtime.flowtest.model import Fixtures
from ivr.runtime.flowtest.runner import fixture_channels, unknown_operations
from ivr.runtime.flowtest.suite import source_text
from ivr.runtime.ports import (
    DataOperations,
    DeliveryResult,
    MessageChannels,
    MessageOrigin,
    OutboundCall,
    WallClock,
)
from ivr.runtime.simulator import TerminalLeg, simulate
from ivr.runtime.testing import FixtureOperations, ScriptedRouting, VirtualWallClock

if TYPE_CHECKING:
    from ivr.adapters.messaging import StoredMessage

if TYPE_CHECKING:
    from ivr.adapters.hosting.plan import TenantPlan


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="TARGET",
        nargs="?",
        help="a flow file, or a folder of flows (with --tenant: a flow name)",
    )
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
    parser.add_argument(
        "--contact",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="an outbound flow's contact field (repeat it), e.g. --contact name=李伟",
    )
    parser.add_argument(
        "--answered-by",
        choices=("person", "machine"),
        default="person",
        help="who answers an outbound call: a person, or an answering machine (after its beep)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where the service's module keeps its data and, with --deliver, the outbox"
        " (default: $IVR_DATA_DIR or var)",
    )
    parser.add_argument(
        "--deliver",
        action="store_true",
        help="send messages through the service's channel gateways, as ivr serve does (docs/channels.md)",
    )
    parser.add_argument(
        "--deliver-wait",
        type=float,
        default=60.0,
        metavar="S",
        help="with --deliver: wait for results after the call (60)",
    )
    tenant_options.add_options(parser)


def run(args: argparse.Namespace) -> int:
    tenant = None
    if tenant_options.chosen(args):
        tenant = tenant_options.resolve(args, "simulate")
        if tenant is None or tenant.source is None:
            return 2
        args.flow, args.target = args.flow or args.target, str(tenant.source)
    elif args.target is None:
        print("ivr simulate: give a flow file or a folder of flows (or --tenant NAME)", file=sys.stderr)
        return 2
    target = Path(args.target)
    for path in (target, Path(args.fixtures) if args.fixtures else None):
        if path is not None and not path.exists():
            print(f"ivr simulate: {path}: no such file or folder", file=sys.stderr)
            return 2
    folder = folder_of(target)
    project, diagnostics = load_project([str(folder)])
    errors = [d for d in diagnostics if d.is_error]
    for diagnostic in errors:
        print(render(diagnostic, project.sources), file=sys.stderr)
    if errors:
        return 1
    flow = _pick_flow(project, target, args)
    if flow is None:
        return 2
    clock = _clock(args.at)
    if clock is None or not _language_ok(project, flow, args.lang):
        return 2
    fixtures = _fixtures(args.fixtures)
    if args.fixtures and fixtures is None:
        return 1
    unknown = unknown_operations(project, fixtures.operations if fixtures else {})
    for problem in unknown:
        print(f"ivr simulate: {args.fixtures}: {problem}", file=sys.stderr)
    if unknown:
        return 1
    data = _data_operations(project, folder, fixtures, args, tenant)
    outbound, usable = _outbound(project, flow, args)
    if not usable:
        return 2
    args.outbox = tenant_options.layout(args, tenant, project.service.name if project.service else "").outbox
    try:
        result: int = trio.run(_call, project, flow, data, clock, fixtures or Fixtures(), args, outbound)
    except AdapterError as exc:  # --deliver: a gateway setting or the outbox cannot be used
        print(f"ivr simulate: {exc}", file=sys.stderr)
        return 1
    return result


def _outbound(project: Project, flow: str, args: argparse.Namespace) -> tuple[OutboundCall | None, bool]:
    """The outbound call an outbound flow runs on (`--contact`, `--answered-by`; None for an
    inbound flow), and False (with a message) when the contact is not enough."""
    pairs = [item.partition("=") for item in args.contact]
    bad = [f"{name}{sep}{value}" for name, sep, value in pairs if not sep or not name]
    if bad:
        print(f"ivr simulate: --contact takes FIELD=VALUE, not {bad[0]!r}", file=sys.stderr)
        return None, False
    compiled = project.flows[flow]
    contact = {name.strip(): value for name, _, value in pairs} if compiled.outbound or pairs else None
    call, problems = trial_call(compiled, contact, answered_by=args.answered_by)
    for problem in problems:
        print(f"ivr simulate: {problem}", file=sys.stderr)
    if problems and compiled.outbound is not None:
        fields = " ".join(f"--contact {d.name}=..." for d in compiled.outbound.contact if d.required)
        print(f"  an outbound call needs its contact: {fields}", file=sys.stderr)
    return call, not problems


def _clock(at: str | None) -> WallClock | None:
    """`--at` as a virtual wall clock (None, with a message, when it is not a zoned time)."""
    if not at:
        return SystemClock()
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        print(
            f"ivr simulate: --at '{at}' is not a date-time with a zone; write e.g. 2026-11-27T10:00:00+08:00",
            file=sys.stderr,
        )
        return None
    return VirtualWallClock(moment)


def _language_ok(project: Project, flow: str, lang: str | None) -> bool:
    languages = project.flows[flow].languages
    if lang is None or lang in languages:
        return True
    print(
        f"ivr simulate: flow '{flow}' has no language '{lang}'; it has {', '.join(languages)}",
        file=sys.stderr,
    )
    return False


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
        flows = sorted(project.flows)
        if not flows:
            print(f"ivr simulate: no flows under {target}", file=sys.stderr)
        elif args.flow:
            hint = did_you_mean(str(args.flow), flows) or f"its flows: {', '.join(flows)}"
            print(f"ivr simulate: no flow '{args.flow}' under {folder_of(target)}; {hint}", file=sys.stderr)
        else:
            print(f"ivr simulate: name a flow: {', '.join(flows)}", file=sys.stderr)
        return None
    flow = next((f.name for f in project.flows.values() if Path(f.file).resolve() == target.resolve()), None)
    if flow is None:
        print(f"ivr simulate: {target} holds no flow", file=sys.stderr)
    return flow


def _fixtures(fixtures_file: str | None) -> Fixtures | None:
    if not fixtures_file:
        return None
    fixtures, problems = load_fixtures_file(fixtures_file)
    sources = {fixtures_file: source_text(fixtures_file)} if problems else {}
    for problem in problems:
        print(render(problem, sources), file=sys.stderr)
    return fixtures


def folder_of(target: Path) -> Path:
    return target.parent if target.is_file() else target


def _data_operations(
    project: Project,
    folder: Path,
    fixtures: Fixtures | None,
    args: argparse.Namespace,
    tenant: TenantPlan | None,
) -> AbstractAsyncContextManager[DataOperations]:
    """The fixtures' answers, or the service's real operations with its module running."""
    if fixtures is not None:
        return nullcontext(FixtureOperations({k: list(v) for k, v in fixtures.operations.items()}))
    if project.service is None or not project.service.operations:
        return nullcontext(FixtureOperations())
    from ivr.adapters.hosting.modules import open_service_operations

    name = tenant.name if tenant is not None else project.service.name
    settings = tenant.decl.settings if tenant is not None and tenant.decl is not None else None
    return open_service_operations(
        project.service,
        base_dir=folder,
        data_dir=tenant_options.module_data_dir(args, tenant, name),
        module=tenant.module if tenant is not None else None,
        tenant=name,
        settings=settings,
    )


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
    operations: AbstractAsyncContextManager[DataOperations],
    clock: WallClock,
    fixtures: Fixtures,
    args: argparse.Namespace,
    outbound: OutboundCall | None = None,
) -> int:
    from ivr.adapters.errors import ConfigError

    try:
        async with operations as data:
            return await _converse(project, flow, data, clock, fixtures, args, outbound)
    except ConfigError as exc:  # the module would not load or start, an operation cannot be bound
        print(f"ivr simulate: the service's operations cannot be used: {exc}", file=sys.stderr)
        return 1


async def _converse(
    project: Project,
    flow: str,
    data: DataOperations,
    clock: WallClock,
    fixtures: Fixtures,
    args: argparse.Namespace,
    outbound: OutboundCall | None = None,
) -> int:
    closed = False

    def write(text: str) -> None:
        nonlocal closed
        if closed:
            return
        try:
            print(text, flush=True)
        except BrokenPipeError:  # `ivr simulate ... | head`: the reader has gone, so the caller has
            closed = True
            _discard_stdout()
            leg.output_closed()

    echo = TerminalEcho(0)
    leg = TerminalLeg(
        StdinLines(), write, caller=args.caller, dialed=args.number or "", fast=args.fast, on_secret=echo.hide
    )

    async def call(channels: MessageChannels) -> CallOutcome:
        routing = ScriptedRouting(dict(fixtures.queues))
        return await simulate(
            project,
            flow,
            leg,
            write,
            data=data,
            clock=clock,
            language=args.lang,
            routing=routing,
            channels=channels,
            outbound=outbound,
        )

    try:
        if not args.deliver:
            outcome = await call(fixture_channels(project, fixtures))
        else:
            outcome = await delivering(project, args, write, call)
    finally:
        echo.restore()
    return 1 if outcome.how == "failed" else 0


class TerminalEcho:
    """The terminal's echo of typed keys, turned off while the caller keys a secret, so a PIN
    never shows on screen. Does nothing when `fd` is not a terminal (piped input)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._saved: list[Any] | None = None
        if termios is not None and os.isatty(fd):
            try:
                self._saved = termios.tcgetattr(fd)
            except termios.error:
                self._saved = None

    def hide(self, secret: bool) -> None:
        if termios is None or self._saved is None:
            return
        attrs = termios.tcgetattr(self._fd)
        attrs[3] = attrs[3] & ~termios.ECHO if secret else attrs[3] | termios.ECHO
        termios.tcsetattr(self._fd, termios.TCSANOW, attrs)

    def restore(self) -> None:
        if termios is not None and self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSANOW, self._saved)


def _discard_stdout() -> None:
    """Point stdout at /dev/null so that nothing more (not even the flush at exit) fails."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


async def delivering(
    project: Project,
    args: argparse.Namespace,
    write: Callable[[str], None],
    call: Callable[[MessageChannels], Awaitable[CallOutcome]],
) -> CallOutcome:
    """Run the call with the outbox and its delivery workers, then wait (at most
    `--deliver-wait` seconds) for the results of the messages it queued."""
    from ivr.adapters.messaging import open_messaging  # only with --deliver

    outbox: Path = args.outbox  # where ivr serve keeps this tenant's outbox
    await trio.to_thread.run_sync(lambda: outbox.parent.mkdir(parents=True, exist_ok=True))
    async with open_messaging(outbox, project.service, os.environ) as messaging:
        queued = NotingChannels(messaging.channels)
        async with trio.open_nursery() as nursery:
            await nursery.start(messaging.run)
            outcome = await call(queued)
            deadline = trio.current_time() + max(0.0, args.deliver_wait)
            for delivery in queued.deliveries:
                left = Decimal(str(max(0.0, deadline - trio.current_time())))
                await messaging.channels.wait_delivery(delivery, left)
                write(describe_delivery(await messaging.outbox.get(delivery), delivery))
            nursery.cancel_scope.cancel()
    return outcome


def describe_delivery(stored: StoredMessage | None, delivery: str) -> str:
    """`delivery ID (channel): status: the gateway's answer or the last error`."""
    if stored is None:
        return f"delivery {delivery}: not in the outbox"
    note = stored.gateway_ref if stored.status == "sent" else stored.last_error
    return f"delivery {delivery} ({stored.channel}): {stored.status}" + (f": {note}" if note else "")


class NotingChannels:
    """`MessageChannels` that note the delivery ids of the messages they queue."""

    def __init__(self, inner: MessageChannels) -> None:
        self._inner = inner
        self.deliveries: list[str] = []

    async def send(
        self,
        channel: str,
        to: str,
        message: str | None,
        document: object | None,
        *,
        origin: MessageOrigin | None = None,
    ) -> str:
        delivery = await self._inner.send(channel, to, message, document, origin=origin)
        self.deliveries.append(delivery)
        return delivery

    async def wait_delivery(self, delivery_id: str, timeout: Decimal) -> DeliveryResult:
        return await self._inner.wait_delivery(delivery_id, timeout)
