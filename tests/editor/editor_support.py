"""Helpers for the editor tests: a copy of the brokerage flows to edit, an editor context
over it, the app served by hypercorn's trio worker on a free port, and an httpx client
signed in the way the browser is."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from asgi_support import serving as serving  # the suites' tests import it from here

from ivr.editor.app import build_editor_app
from ivr.editor.auth import AccountFile, EditorUser, local_sign_in
from ivr.editor.context import EditorContext
from ivr.editor.publishing import FolderPublisher
from ivr.editor.simulation import Speech
from ivr.editor.workspace import Workspace

FLOWS = Path(__file__).resolve().parents[2] / "flows"
HEADERS = {"X-IVR-Editor": "1"}


def copy_flows(tmp_path: Path) -> Path:
    """The brokerage flows in a folder of their own (tests edit them freely)."""
    target = tmp_path / "project"
    shutil.copytree(FLOWS, target)
    return target


def local_context(
    folder: Path, tmp_path: Path, *, role: str = "publisher", speech: Speech | None = None
) -> EditorContext:
    return EditorContext(
        {"": Workspace(folder)},
        publisher=FolderPublisher(tmp_path / "published"),
        local=local_sign_in("ana", role),  # type: ignore[arg-type]
        speech=speech,
    )


class PlainText:
    """A password check for tests: the stored "hash" is `plain:<password>`."""

    @staticmethod
    def verify(password: str, stored: str) -> bool:
        return stored == f"plain:{password}"


def accounts_context(folder: Path, tmp_path: Path) -> EditorContext:
    from ivr.editor.auth import Account

    accounts = {
        "alice": Account(EditorUser("alice", "author"), "plain:alice-pw"),
        "pat": Account(EditorUser("pat", "publisher"), "plain:pat-pw"),
    }
    return EditorContext(
        {"": Workspace(folder)},
        publisher=FolderPublisher(tmp_path / "published"),
        logins=AccountFile(accounts, PlainText.verify),
    )


@asynccontextmanager
async def client(context: EditorContext, *, sign_in: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the app in-process (ASGI), signed in as the local user."""
    app = build_editor_app(context, check_bundle=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        if sign_in and context.local is not None:
            response = await http.get(f"/?token={context.local.token}")
            assert response.status_code == 303, response.text
        yield http
