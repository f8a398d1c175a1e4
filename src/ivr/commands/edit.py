"""`ivr edit [FOLDER]`: the flow editor in a browser, for one author on this machine.

The composition root of the editor: it builds an `ivr.editor.context.EditorContext` over
the folder, wires the parts that live in the adapters (espeak-ng for prompt audio, the
service's real data operations for the simulator, the scrypt check for an accounts file),
publishes into `DATA_DIR/published/` (`FolderPublisher`) or, with `--server URL --tenant
NAME`, to a running `ivr serve --hosting` as that tenant (`ServerPublisher`: the path `ivr
publish` takes, new calls get the version at once, no restart), and serves `ivr.editor.app`
with hypercorn's trio worker on 127.0.0.1. It prints the address to open, which carries a
one-time sign-in token.
With `--accounts FILE` users sign in by name and password instead (roles author and
publisher), and only then may `--host` name a non-loopback address.
Exit status: 0 after Ctrl-C, 2 usage problems (no such folder, a bad accounts file, an
unbuilt front end, a non-loopback host without accounts).
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from starlette.applications import Starlette

from ivr.editor.app import BundleMissing, build_editor_app
from ivr.editor.auth import AccountsError, load_accounts, local_sign_in
from ivr.editor.context import EditorContext
from ivr.editor.errors import EditorError
from ivr.editor.publishing import FolderPublisher, Publisher
from ivr.editor.server_publishing import ServerPublisher
from ivr.editor.simulation import OperationsFactory
from ivr.editor.workspace import Workspace
from ivr.flowlang.ir import Project
from ivr.runtime.ports import DataOperations


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", nargs="?", default="flows", help="the project folder (default: flows)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8090, help="HTTP port (default: 8090; 0 picks a free one)"
    )
    parser.add_argument("--user", default=None, help="the local author's name (default: your login name)")
    parser.add_argument(
        "--role",
        choices=("author", "publisher"),
        default="publisher",
        help="the local user's role (publisher)",
    )
    parser.add_argument(
        "--accounts", type=Path, metavar="FILE", help="sign in by name and password (docs/editor.md)"
    )
    parser.add_argument("--data-dir", type=Path, default=Path("var"), help="published versions, audio (var)")
    parser.add_argument("--no-speech", action="store_true", help="do not render prompts with espeak-ng")
    remote = parser.add_argument_group("publishing to a running server (ivr serve --hosting)")
    remote.add_argument(
        "--server", metavar="URL", help="publish to this server's HTTP API instead of DATA_DIR"
    )
    remote.add_argument("--tenant", metavar="NAME", help="as this tenant (with --server)")
    remote.add_argument("--token", help="the tenant's or the operator's API token (default: $IVR_TOKEN)")


def run(args: argparse.Namespace) -> int:
    try:
        context = build_context(args)
        app = build_editor_app(context)
    except (EditorError, AccountsError, BundleMissing, UsageProblem) as exc:
        print(f"ivr edit: {exc}", file=sys.stderr)
        return 2
    trio.run(_serve, app, context, args)
    return 0


class UsageProblem(Exception):
    """A command-line mistake; the message says which."""


def build_context(args: argparse.Namespace) -> EditorContext:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageProblem(f"{folder}: no such folder")
    workspace = Workspace(folder)
    if args.accounts is None and not _loopback(args.host):
        raise UsageProblem(f"--host {args.host} would let others in: give --accounts FILE to require sign-in")
    speech = None if args.no_speech else espeak_speech(args.data_dir / "tts")
    publisher = _publisher(args)
    operations = service_operations(folder)
    if args.accounts is not None:
        from ivr.adapters.cti.accounts import verify_password

        logins = load_accounts(args.accounts, verify_password)
        return EditorContext(
            {"": workspace}, publisher=publisher, logins=logins, speech=speech, operations=operations
        )
    local = local_sign_in(args.user or _login_name(), args.role)
    return EditorContext(
        {"": workspace}, publisher=publisher, local=local, speech=speech, operations=operations
    )


def _publisher(args: argparse.Namespace) -> Publisher:
    """Where Publish goes: a running server's tenant (`--server`), or the local data folder."""
    if args.server is None:
        if args.tenant is not None:
            raise UsageProblem("--tenant names a tenant of a server: give --server URL too")
        return FolderPublisher(args.data_dir / "published")
    if not args.tenant:
        raise UsageProblem("--server needs --tenant NAME (the tenant the project is published as)")
    if not args.server.startswith(("http://", "https://")):
        raise UsageProblem(f"--server {args.server}: give an http:// or https:// address")
    return ServerPublisher(args.server, args.tenant, args.token or os.environ.get("IVR_TOKEN"))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "author"


class EspeakSpeech:
    """The editor's `Speech` on the hosting's espeak-ng renderer (cached WAV files)."""

    def __init__(self, cache: Path) -> None:
        from ivr.adapters.speech.espeak import EspeakRenderer

        self._renderer = EspeakRenderer(cache)

    async def wav(self, text: str, language: str) -> Path:
        return (await self._renderer.render(text, language)).path


def espeak_speech(cache: Path) -> EspeakSpeech | None:
    """Prompt audio when espeak-ng is installed; None (text only) otherwise."""
    return EspeakSpeech(cache) if shutil.which("espeak-ng") else None


def service_operations(folder: Path) -> OperationsFactory:
    """A factory of the service's real data operations, bound like `ivr simulate` does."""

    @asynccontextmanager
    async def bind(project: Project) -> AsyncIterator[DataOperations]:
        from ivr.adapters.data import ServiceOperations

        if project.service is None:
            raise RuntimeError("the project has no service file declaring operations")
        async with ServiceOperations.from_service(project.service, base_dir=folder) as operations:
            yield operations

    return bind


async def _serve(app: Starlette, context: EditorContext, args: argparse.Namespace) -> None:
    from hypercorn.config import Config
    from hypercorn.trio import serve

    asgi: Any = app  # hypercorn's ASGI types are stricter than Starlette's own
    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.accesslog = None
    config.graceful_timeout = 1.0
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            lambda task_status: serve(asgi, config, task_status=task_status)
        )
        address = binds[0].replace("0.0.0.0", "127.0.0.1")
        where = f"{address}/"
        if context.local is not None:
            where += f"?token={context.local.token}"
            who = f"as {context.local.user.name} ({context.local.user.role})"
        else:
            who = "sign in with an account from the accounts file"
        folder = next(iter(context.projects.values())).root
        print(f"ivr edit: editing {folder}; open {where} ({who}); Ctrl-C stops", flush=True)
