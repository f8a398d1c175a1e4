"""`ivr campaign ...`: create, start, pause, resume, stop and watch outbound campaigns on a
running `ivr serve`, through its HTTP API (`/campaigns`, docs/outbound.md).

    ivr campaign list
    ivr campaign create CAMPAIGN [--run ID] [--contacts FILE.csv]
    ivr campaign start|pause|resume|stop RUN
    ivr campaign add RUN (--contact key=K phone=N [field=V ...] ... | --contacts FILE.csv)
    ivr campaign status RUN [--watch SECONDS] [--json]
    ivr campaign attempts RUN [--limit N] [--json]
    ivr campaign opt-out NUMBER

The server is `--server URL`, else `$IVR_SERVER`, else http://127.0.0.1:8080; a server with
a hosting file wants the operator's token (`--token`, else `$IVR_TOKEN`). Exit codes:
0 done, 1 the server refused (the reason is printed), 2 usage or the server cannot be
reached.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

DEFAULT_SERVER = "http://127.0.0.1:8080"
ACTIONS = ("start", "pause", "resume", "stop")
OUTCOME_WORDS = {"no_answer": "no answer", "do_not_call": "do not call"}


class Refused(Exception):
    """The server answered with an error (its text is the message)."""


def configure(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    server_help = f"the server's HTTP address (default $IVR_SERVER or {DEFAULT_SERVER})"
    common.add_argument("--server", help=server_help)
    common.add_argument(
        "--token", help="the operator's API token, for a server with a hosting file (default: $IVR_TOKEN)"
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, summary: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=summary, parents=[common])

    action("list", "the declared campaigns and every run")
    create = action("create", "a new run of a campaign (not started)")
    create.add_argument("campaign", help="a campaign of the service file")
    create.add_argument("--run", help="the run's id (default: campaign-date-time)")
    create.add_argument(
        "--contacts", type=Path, help="this run's contact list (CSV; default: the campaign's)"
    )
    add = action(
        "add", "add contacts to a run, even while it runs (each with a key: a key added again is ignored)"
    )
    add.add_argument("run")
    add.add_argument(
        "--contact",
        nargs="+",
        action="append",
        metavar="FIELD=VALUE",
        help="one contact: key=K phone=N and the fields its flow reads (repeat for more)",
    )
    add.add_argument("--contacts", type=Path, help="a CSV file of contacts with a `key` column")
    for name in ACTIONS:
        action(name, f"{name} a run").add_argument("run")
    status = action("status", "a run's progress: outcomes, pace, ETA")
    status.add_argument("run")
    status.add_argument("--watch", type=float, metavar="SECONDS", help="print again every SECONDS until done")
    status.add_argument("--json", action="store_true")
    attempts = action("attempts", "a run's attempts, newest first")
    attempts.add_argument("run")
    attempts.add_argument("--limit", type=int, default=50)
    attempts.add_argument("--json", action="store_true")
    action("opt-out", "put a number on the do-not-call list").add_argument("number")


def run(args: argparse.Namespace) -> int:
    server = (args.server or os.environ.get("IVR_SERVER") or DEFAULT_SERVER).rstrip("/")
    try:
        token = args.token or os.environ.get("IVR_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=server, timeout=30.0, headers=headers) as client:
            return _dispatch(client, args)
    except Refused as exc:
        print(f"ivr campaign: {exc}", file=sys.stderr)
        return 1
    except Usage as exc:
        print(f"ivr campaign: {exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:
        print(f"ivr campaign: cannot reach the server at {server}: {exc}", file=sys.stderr)
        print("  start it with `ivr serve`, or give --server URL", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ivr campaign: {exc}", file=sys.stderr)
        return 2


def _dispatch(client: httpx.Client, args: argparse.Namespace) -> int:
    action = args.action
    if action == "list":
        _print_list(_call(client, "GET", "/campaigns"))
    elif action == "create":
        body = args.contacts.read_bytes() if args.contacts else b""
        params = {"run": args.run} if args.run else {}
        progress = _call(client, "POST", f"/campaigns/{args.campaign}", content=body, params=params)
        print(f"created run {progress['run']} of {progress['campaign']}: {progress['contacts']} contacts")
        print(f"  start it with: ivr campaign start {progress['run']}")
    elif action == "add":
        added = _call(client, "POST", f"/campaigns/runs/{args.run}/contacts", content=_added_csv(args))
        print(f"run {args.run}: {added['added']} contact(s) added, {added['already']} it had already")
    elif action in ACTIONS:
        print(_summary(_call(client, "POST", f"/campaigns/runs/{args.run}/{action}")))
    elif action == "status":
        return _status(client, args)
    elif action == "attempts":
        found = _call(client, "GET", f"/campaigns/runs/{args.run}/attempts", params={"limit": args.limit})
        if args.json:
            print(json.dumps(found, ensure_ascii=False, indent=2))
        else:
            for a in found["attempts"]:
                outcome = a["outcome"] or "calling"
                extra = f" ({a['disposition']})" if a["disposition"] else ""
                print(f"{a['started_at'][:19]}  {a['attempt']:<28} {a['number']:<16} {outcome}{extra}")
            print(f"{len(found['attempts'])} of {found['total']} attempt(s)")
    elif action == "opt-out":
        listed = _call(client, "POST", "/campaigns/do-not-call", json={"number": args.number})
        print(f"{args.number} is on the do-not-call list ({listed['numbers']} number(s))")
    return 0


class Usage(Exception):
    """The command line cannot be used as given (the message says why)."""


def _added_csv(args: argparse.Namespace) -> bytes:
    """The contacts of `ivr campaign add` as CSV text: the file, or the `--contact`s."""
    given: list[list[str]] = args.contact or []
    if bool(args.contacts) == bool(given):
        raise Usage(
            "give the contacts to add: --contact key=K phone=N ... (repeatable) or --contacts FILE.csv"
        )
    if args.contacts:
        return bytes(args.contacts.read_bytes())
    rows: list[dict[str, str]] = []
    for pairs in given:
        row: dict[str, str] = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if not sep or not name.strip():
                raise Usage(f"--contact {pair!r}: write FIELD=VALUE, e.g. phone=13800138000")
            row[name.strip()] = value
        rows.append(row)
    columns = list(dict.fromkeys(name for row in rows for name in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _status(client: httpx.Client, args: argparse.Namespace) -> int:
    while True:
        progress = _call(client, "GET", f"/campaigns/runs/{args.run}")
        print(json.dumps(progress, ensure_ascii=False) if args.json else _summary(progress), flush=True)
        if not args.watch or progress["state"] in ("completed", "stopped"):
            return 0
        time.sleep(max(0.2, args.watch))


def _call(client: httpx.Client, method: str, path: str, **kw: Any) -> Any:
    response = client.request(method, path, **kw)
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text[:200]}
    if response.status_code >= 400:
        raise Refused(str(body.get("error") if isinstance(body, dict) else body))
    return body


def _counts(counts: dict[str, int]) -> str:
    shown = [f"{OUTCOME_WORDS.get(k, k)} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
    return ", ".join(shown) or "none"


def _summary(p: dict[str, Any]) -> str:
    eta = p.get("eta_seconds")
    eta_text = "-" if eta is None else _duration(float(eta))
    return "\n".join(
        [
            f"run {p['run']} ({p['campaign']}): {p['state']}",
            f"  contacts {p['contacts']}: {_counts(p['contact_states'])}",
            f"  final outcomes: {_counts(p['final_outcomes'])}",
            f"  attempts {p['attempts']}: {_counts(p['attempt_outcomes'])}; calling now {p['calling']}",
            f"  dispositions: {_counts(p['dispositions'])}",
            f"  pace {p['per_minute']:.1f} calls/min; ETA {eta_text}",
        ]
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _print_list(overview: dict[str, Any]) -> None:
    campaigns = overview.get("campaigns", {})
    print(f"campaigns: {', '.join(campaigns) or 'none declared'}")
    for name, trunk in overview.get("trunks", {}).items():
        print(f"  trunk {name}: {trunk['outbound']} call(s) out, {trunk['free']} free channel(s) now")
    for p in overview.get("runs", []):
        counts = f"{p['contacts']:>7} contacts {p['attempts']:>7} attempts"
        print(f"{p['run']:<32} {p['campaign']:<16} {p['state']:<10} {counts}")
    print(f"do-not-call list: {overview.get('do_not_call', 0)} number(s)")
