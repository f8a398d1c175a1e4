"""The `ivr` command: the composition root that wires flowlang, runtime and adapters.

Each subcommand lives in `ivr.commands.<name>` with `configure(parser)` and `run(args) -> int`.
Exit codes: 0 success, 1 the input has errors (or tests failed), 2 usage problems.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ivr import __version__

COMMANDS: dict[str, str] = {
    "check": "validate flow files and their service configuration",
    "draw": "draw a flow as a graph (svg, png or dot)",
    "explain": "explain a diagnostic code, e.g. `ivr explain FL301`",
    "serve": "run the flows as a SIP telephony service with an HTTP status API",
    "simulate": "walk through a flow in the terminal with the keypad",
    "test": "run flow test files (*.test.yaml)",
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
    result: int = module.run(args)
    return result
