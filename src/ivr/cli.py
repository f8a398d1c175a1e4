"""The `ivr` command line: one subcommand per module in `ivr.commands`, dispatched here.

Each subcommand lives in `ivr.commands.<name>` with `configure(parser)` and `run(args) -> int`.
Exit codes: 0 success, 1 the input has errors (or tests failed), 2 usage problems.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator, Sequence

from ivr import __version__

COMMANDS: dict[str, str] = {
    "campaign": "create, start, pause, stop and watch outbound campaigns on a running server",
    "cluster": "several ivr serve instances behind Kamailio as one center (`ivr cluster up`)",
    "check": "validate flow files and their service configuration",
    "draw": "draw a flow as a graph (svg, png or dot)",
    "edit": "edit, check, draw, try and publish flows in a browser (the flow editor)",
    "explain": "explain a diagnostic code, e.g. `ivr explain FL301`",
    "messages": "the outbox: list messages, show one with its attempts, retry dead ones",
    "publish": "publish a tenant's flows to the running server, checked, without a restart",
    "report": "reports from the call records: `ivr report usage` (per tenant per day)",
    "serve": "run the flows as a SIP telephony service with an HTTP status API",
    "simulate": "walk through a flow in the terminal with the keypad",
    "test": "run flow test files (*.test.yaml)",
    "versions": "list, diff and roll back a tenant's published versions",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr", description="IVR flow language tools and runtime.")
    parser.add_argument("--version", action="version", version=f"ivr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in COMMANDS.items():
        module = importlib.import_module(f"ivr.commands.{name}")
        child = sub.add_parser(name, help=summary, description=summary)
        module.configure(child)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    module = importlib.import_module(f"ivr.commands.{args.command}")
    try:
        result: int = module.run(args)
    except BaseException as exc:
        code = _quiet_exit(exc)
        if code is None:
            raise
        return code
    return result


def _quiet_exit(exc: BaseException) -> int | None:
    """Ctrl-C (exit 130) or a closed output pipe, e.g. `ivr draw ... | head` (exit 141):
    the user's doing, so a short word instead of a traceback. None: anything else."""
    leaves = list(_leaves(exc))
    if leaves and all(isinstance(e, KeyboardInterrupt | BrokenPipeError) for e in leaves):
        if any(isinstance(e, KeyboardInterrupt) for e in leaves):
            print("\nivr: interrupted", file=sys.stderr)
            return 130
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more to write, not even at exit
        os.close(devnull)
        return 141
    return None


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions inside (nested) exception groups, such as trio's."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc
