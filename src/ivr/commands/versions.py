"""`ivr versions TENANT`: the published versions of a tenant's flows on the running server;
`--diff A B` shows what changed between two, `--rollback V` publishes an old one again (as
a new version, checked like any publish).

Exit status: 0 done, 1 a rollback was refused, 2 usage problems (no server, a wrong token,
an unknown tenant or version).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from ivr.commands import remote


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tenant", metavar="TENANT", help="the tenant, as the hosting file names it")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--diff", nargs=2, metavar=("OLD", "NEW"), help="the changes from version OLD to NEW")
    what.add_argument("--rollback", metavar="VERSION", help="publish VERSION's files again, as a new version")
    parser.add_argument("--author", help="who rolls back (default: your user name)")
    parser.add_argument("--note", default="", help="why, kept with the new version")
    remote.add_options(parser)


def run(args: argparse.Namespace) -> int:
    try:
        if args.diff:
            return _diff(args)
        if args.rollback:
            return _rollback(args)
        return _list(args)
    except remote.RemoteError as exc:
        print(f"ivr versions: {exc}", file=sys.stderr)
        return 2


def _list(args: argparse.Namespace) -> int:
    status, answer = remote.request(args, "GET", f"/tenants/{args.tenant}/versions")
    if status != 200:
        print(f"ivr versions: {answer.get('error')}", file=sys.stderr)
        return 2
    print(f"{'':2}{'version':8} {'created (UTC)':26} {'author':16} {'origin':18} note")
    for v in answer["versions"]:
        mark = "* " if v["current"] else "  "
        print(f"{mark}{v['id']:8} {v['created']:26} {v['author'][:16]:16} {v['origin'][:18]:18} {v['note']}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    old, new = args.diff
    status, answer = remote.request(args, "GET", f"/tenants/{args.tenant}/versions/{old}/diff/{new}")
    if status != 200:
        print(f"ivr versions: {answer.get('error')}", file=sys.stderr)
        return 2
    sys.stdout.write(answer["diff"] or f"{old} and {new} hold the same files\n")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    body = {"version": args.rollback, "author": args.author or getpass.getuser(), "note": args.note}
    status, answer = remote.request(args, "POST", f"/tenants/{args.tenant}/rollback", body)
    remote.show_diagnostics(answer, {})
    if answer.get("ok"):
        version = answer["version"]
        print(f"rolled back {args.tenant} to {args.rollback}: now {version['id']} ({version['origin']})")
        return 0
    print(f"ivr versions: {answer.get('message') or answer.get('error') or 'refused'}", file=sys.stderr)
    return 2 if status in (400, 404) else 1
