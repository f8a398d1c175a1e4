"""`ivr explain CODE`: print what a diagnostic code means, an example and the fix.

The text comes from `ivr.flowlang.catalogue` (the same source as docs/errors.md). An unknown
code is a usage problem: exit 2 with a did-you-mean.
"""

from __future__ import annotations

import argparse
import sys

from ivr.flowlang.catalogue import lookup, render_entry, suggest


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("code", metavar="CODE", help="a diagnostic code such as FL301")


def run(args: argparse.Namespace) -> int:
    entry = lookup(args.code)
    if entry is None:
        hint = suggest(args.code)
        extra = f"; {hint}" if hint else "; codes look like FL301 (see docs/errors.md)"
        print(f"ivr explain: unknown code '{args.code}'{extra}", file=sys.stderr)
        return 2
    sys.stdout.write(render_entry(entry))
    return 0
