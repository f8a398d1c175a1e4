"""`ivr publish TENANT FOLDER`: send a tenant's flows to the running server, which checks them
and, when they are clean, serves them to new calls at once (no restart).

The folder's flows, service file and prompts (`*.yaml`, `*.wav`) go to `POST
/tenants/TENANT/versions` of `ivr serve --hosting` (docs/tenants.md), with the tenant's own
API token or the operator's. A version with errors is refused with every diagnostic, shown
as `ivr check` shows them on your files; a clean one becomes the next version (id, author,
time) and the calls already in progress finish on theirs. `--check` only checks.
Exit status: 0 published (or clean), 1 refused, 2 usage problems (no such folder, no
server, a wrong token).
"""

from __future__ import annotations

import argparse
import base64
import getpass
import sys
from pathlib import Path

from ivr.commands import remote


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tenant", metavar="TENANT", help="the tenant, as the hosting file names it")
    parser.add_argument(
        "folder", metavar="FOLDER", type=Path, help="the tenant's flows, service.yaml and prompts"
    )
    parser.add_argument("--author", help="who publishes (default: your user name)")
    parser.add_argument("--note", default="", help="what changed, kept with the version")
    parser.add_argument("--check", action="store_true", help="only check, keep nothing")
    remote.add_options(parser)


def run(args: argparse.Namespace) -> int:
    from ivr.adapters.hosting.versions import check_files, snapshot

    folder: Path = args.folder
    if not folder.is_dir():
        print(f"ivr publish: {folder}: no such folder", file=sys.stderr)
        return 2
    files = snapshot(folder)
    problems = check_files(files)
    if problems:
        for problem in problems:
            print(f"ivr publish: {folder}: {problem}", file=sys.stderr)
        return 2
    body = {
        "author": args.author or getpass.getuser(),
        "note": args.note,
        "files": {
            name: data.decode("utf-8", "replace") for name, data in files.items() if not name.endswith(".wav")
        },
        "audio": {
            name: base64.b64encode(data).decode() for name, data in files.items() if name.endswith(".wav")
        },
    }
    path = f"/tenants/{args.tenant}/{'check' if args.check else 'versions'}"
    try:
        status, answer = remote.request(args, "POST", path, body)
    except remote.RemoteError as exc:
        print(f"ivr publish: {exc}", file=sys.stderr)
        return 2
    sources = {f"{args.tenant}/{name}": text for name, text in body["files"].items()}
    remote.show_diagnostics(answer, sources)
    if status == 404:
        print(f"ivr publish: {answer.get('error')}", file=sys.stderr)
        return 2
    if not answer.get("ok"):
        reason = answer.get("message") or f"{answer.get('errors', 0)} error(s)"
        print(f"ivr publish: {args.tenant}: refused: {reason}", file=sys.stderr)
        return 1
    if args.check:
        print(f"ok: {args.tenant}: {len(files)} files would publish")
        return 0
    version = answer["version"]
    print(
        f"published {args.tenant} {version['id']} by {version['author']} at {version['created']} "
        f"({version['files']} files); new calls get it now"
    )
    return 0
