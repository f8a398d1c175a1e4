"""`MessagesApi`: the outbox as a read-only HTTP view, a small ASGI app of its own.

Place: the hosted runtime's HTTP app (`ivr.adapters.hosting.http.HttpApi`) answers
`/messages` and `/tenants/{t}/messages` with `listing` and `one` of the tenant's outbox,
behind its tokens. Standing alone it is an ASGI app (`mount_messages` beside another app, or
any router's mount: it serves paths relative to where it is mounted, reading `root_path`).

    GET /messages?status=dead&channel=email&call=ID&n=50
        {"messages": [newest first: id, channel, kind, to, status, attempts, max_attempts,
         created, updated, next_attempt, sent, last_error, gateway_ref, call, flow, node],
         "counts": {channel: {status: n}}}
    GET /messages/{id}
        {"message": {... as above, "text": the message text, "document": its title},
         "attempts": [{attempt, started, handed_over, ended, outcome, detail}]}

Statuses: queued, sending, sent, dead, in_doubt (docs/channels.md).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from ivr.adapters.messaging.store import OutboxStore, StoredMessage

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Any, Any, Any], Awaitable[None]]
PREFIX = "/messages"
MAX_LIST = 1000


class MessagesApi:
    def __init__(self, outbox: OutboxStore) -> None:
        self._outbox = outbox

    @staticmethod
    def handles(scope: Scope) -> bool:
        path = str(scope.get("path", ""))
        return scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        status, body = await self.respond(scope["method"], _relative(scope), scope.get("query_string", b""))
        data = json.dumps(body, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def respond(self, method: str, path: str, query: bytes) -> tuple[int, object]:
        """(status, JSON body) for a request to `path` below the mount point."""
        if method not in ("GET", "HEAD"):
            return 405, {"error": "only GET is served"}
        parts = [p for p in path.split("/") if p]
        if not parts:
            return 200, await self.listing(parse_qs(query.decode(errors="replace")))
        if len(parts) == 1:
            return await self.one(parts[0])
        return 404, {"error": f"no such resource: {PREFIX}{path}"}

    async def listing(self, query: Mapping[str, list[str]]) -> dict[str, object]:
        def first(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        try:
            limit = min(MAX_LIST, max(0, int(first("n") or 100)))
        except ValueError:
            limit = 100
        found = await self._outbox.messages(
            status=first("status"), channel=first("channel"), call_id=first("call"), limit=limit
        )
        return {"messages": [m.summary() for m in found], "counts": await self._outbox.counts()}

    async def one(self, delivery_id: str) -> tuple[int, object]:
        message = await self._outbox.get(delivery_id)
        if message is None:
            return 404, {"error": f"no message {delivery_id!r}"}
        attempts = await self._outbox.attempts(delivery_id)
        return 200, {"message": detail(message), "attempts": [a.summary() for a in attempts]}


def detail(message: StoredMessage) -> dict[str, object]:
    """A message's summary with its text and its document's title (not the document)."""
    document = message.document
    title = document.get("title") if isinstance(document, dict) else ("(text)" if document else None)
    return {**message.summary(), "text": message.message, "document": title}


def mount_messages(host: Asgi, api: MessagesApi) -> Asgi:
    """One ASGI app: /messages and below go to `api`, everything else to `host`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await (api if MessagesApi.handles(scope) else host)(scope, receive, send)

    return app


def _relative(scope: Scope) -> str:
    """The path below the mount point, whether the router kept the full path (and set
    `root_path`), stripped it, or did not mount at all (`mount_messages`)."""
    path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    if path == PREFIX or path.startswith(PREFIX + "/"):
        path = path[len(PREFIX) :]
    return path
