"""`ivr messages`: the outbox for operators: what was sent, what waits, what died, and why.

    ivr messages list [--status dead] [--channel email] [--call ID] [-n 50] [--json]
    ivr messages show ID [--json]             # one message and every attempt
    ivr messages retry ID... [--attempts 3]   # send a dead or in-doubt message again

The outbox is `DATA_DIR/outbox.sqlite3` (`--data-dir`, else `$IVR_DATA_DIR`, else `var`,
as for `ivr serve`), a hosting file's tenant's `DATA_DIR/tenants/NAME/outbox.sqlite3`
(`--tenant NAME`), or `--outbox FILE`; with `--database-url URL` (the one `ivr serve` was
given) a tenant's outbox in PostgreSQL, in schema `tenant_NAME` (`--tenant`; serving a flows
folder, NAME is the service's name, else `default`). An ID may be shortened to a unique prefix of at
least 6 characters. A running `ivr serve` picks up a retried message within 5 seconds.
Exit status: 0 done, 1 a message was not found or could not be retried, 2 usage problems.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import trio

from ivr.adapters.errors import AdapterError
from ivr.adapters.messaging import (
    STATUSES,
    OutboxPlace,
    OutboxStore,
    StoredMessage,
    open_outbox_at,
)
from ivr.adapters.messaging.http import detail

MIN_PREFIX = 6


def configure(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--data-dir", type=Path, help="the serve data directory (default: $IVR_DATA_DIR or var)"
    )
    where.add_argument("--outbox", type=Path, metavar="FILE", help="the outbox database itself")
    where.add_argument(
        "--database-url", metavar="URL", help="the PostgreSQL database of `ivr serve --database-url`"
    )
    parser.add_argument("--tenant", metavar="NAME", help="a hosting file's tenant: its own outbox")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="messages, newest first")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--channel")
    listing.add_argument("--call", help="the messages one call queued")
    listing.add_argument("-n", type=int, default=50, help="how many (default 50)")
    listing.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="one message and its attempts")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    retry = actions.add_parser("retry", help="queue dead or in-doubt messages again")
    retry.add_argument("ids", nargs="+", metavar="ID")
    retry.add_argument("--attempts", type=int, default=3, help="attempts they get (default 3)")


def run(args: argparse.Namespace) -> int:
    if args.outbox and args.tenant:
        print("ivr messages: give --outbox FILE or --tenant NAME, not both", file=sys.stderr)
        return 2
    place: OutboxPlace
    if args.database_url:
        try:
            place = _database_outbox(args.database_url, args.tenant)
        except AdapterError as exc:  # a URL that cannot be read (never echoed with its password)
            print(f"ivr messages: {exc}", file=sys.stderr)
            return 2
    else:
        place = args.outbox or _outbox_of(
            args.data_dir or Path(os.environ.get("IVR_DATA_DIR") or "var"), args.tenant
        )
        if not place.is_file():
            where = "--data-dir, --tenant or --outbox" if args.tenant is None else "--data-dir"
            print(f"ivr messages: no outbox at {place} (give {where})", file=sys.stderr)
            return 2
    try:
        result: int = trio.run(_run, place, args)
    except AdapterError as exc:  # OutboxError, a database that cannot be reached or read
        print(f"ivr messages: {exc}", file=sys.stderr)
        return 1
    return result


def _outbox_of(data_dir: Path, tenant: str | None) -> Path:
    """Where `ivr serve` keeps the outbox: per tenant with a hosting file."""
    from ivr.adapters.hosting.layout import TenantLayout

    if tenant is None:
        return TenantLayout.folder(data_dir, "").outbox
    return TenantLayout.hosted(data_dir, tenant).outbox


def _database_outbox(url: str, tenant: str | None) -> OutboxPlace:
    """A tenant's outbox on the shared database (`ivr.adapters.hosting.stores.outbox_place`)."""
    from ivr.adapters.hosting.plan import DEFAULT_TENANT
    from ivr.adapters.postgres.database import check_url
    from ivr.adapters.postgres.outbox import PostgresOutboxPlace

    return PostgresOutboxPlace(check_url(url), schema=f"tenant_{tenant or DEFAULT_TENANT}")


async def _run(place: OutboxPlace, args: argparse.Namespace) -> int:
    outbox = await open_outbox_at(place)
    try:
        match args.action:
            case "list":
                return await _list(outbox, args)
            case "show":
                return await _show(outbox, args)
            case _:
                return await _retry(outbox, args)
    finally:
        await outbox.aclose()


async def _list(outbox: OutboxStore, args: argparse.Namespace) -> int:
    found = await outbox.messages(status=args.status, channel=args.channel, call_id=args.call, limit=args.n)
    if args.json:
        print(json.dumps({"messages": [m.summary() for m in found]}, ensure_ascii=False, indent=1))
        return 0
    if not found:
        print("no messages")
        return 0
    print(f"{'ID':32}  {'STATUS':8}  {'CHANNEL':8}  {'TO':24}  TRIES  {'QUEUED (UTC)':16}  NOTE")
    for m in found:
        tries = f"{m.attempts}/{m.max_attempts}"
        columns = f"{m.delivery_id:32}  {m.status:8}  {m.channel:8}  {m.to:24}  {tries:5}"
        print(f"{columns}  {_when(m.created_at)}  {_note(m)}")
    return 0


async def _show(outbox: OutboxStore, args: argparse.Namespace) -> int:
    message = await _find(outbox, args.id)
    if message is None:
        return 1
    attempts = await outbox.attempts(message.delivery_id)
    if args.json:
        body = {"message": detail(message), "attempts": [a.summary() for a in attempts]}
        print(json.dumps(body, ensure_ascii=False, indent=1))
        return 0
    for key, value in detail(message).items():
        if value is not None:
            print(f"{key + ':':13} {value}")
    for a in attempts:
        handed = " (handed over)" if a.handoff_at else ""
        outcome = a.outcome or "in progress"
        print(f"attempt {a.attempt}: {_when(a.started_at)}{handed}: {outcome}: {a.detail or ''}")
    return 0


async def _retry(outbox: OutboxStore, args: argparse.Namespace) -> int:
    failures = 0
    for given in args.ids:
        message = await _find(outbox, given)
        if message is None:
            failures += 1
            continue
        retried = await outbox.retry(message.delivery_id, datetime.now(UTC), max(1, args.attempts))
        if retried is None:
            problem = f"{message.delivery_id} is {message.status}: only dead or in_doubt messages are retried"
            print(f"ivr messages: {problem}", file=sys.stderr)
            failures += 1
        else:
            more = max(1, args.attempts)
            print(f"{message.delivery_id}: queued again (was {message.status}), {more} more attempt(s)")
    return 1 if failures else 0


async def _find(outbox: OutboxStore, given: str) -> StoredMessage | None:
    message = await outbox.get(given)
    if message is None and len(given) >= MIN_PREFIX:
        matches = [m for m in await outbox.messages(limit=100_000) if m.delivery_id.startswith(given)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            print(
                f"ivr messages: {given} matches {len(matches)} messages; give more of the id", file=sys.stderr
            )
            return None
    if message is None:
        print(f"ivr messages: no message {given}", file=sys.stderr)
    return message


def _note(message: StoredMessage) -> str:
    match message.status:
        case "queued" if message.next_attempt_at and message.attempts:
            return f"next try {_when(message.next_attempt_at)}: {message.last_error or ''}"
        case "sent" | "delivered":
            return f"sent {_when(message.sent_at)}" if message.sent_at else "sent"
        case "dead" | "in_doubt" | "failed":
            return message.last_error or ""
    return ""


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if at else ""
