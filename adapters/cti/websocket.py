"""The CTI session's `Transport` over an ASGI WebSocket (hypercorn speaks the protocol;
`wsproto` does the framing underneath), with no framework in between.

Place: the wire end of the CTI adapter, used by `ivr.adapters.cti.app` for WS /cti/ws.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from typing import Any

from ivr.adapters.cti.session import TransportClosed

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


class AsgiWebSocket:
    """`Transport` over one ASGI websocket connection."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self.closed = False

    async def accept(self) -> bool:
        """Complete the handshake; False if the client left first."""
        message = await self._receive()
        if message["type"] != "websocket.connect":
            self.closed = True
            return False
        await self._send({"type": "websocket.accept"})
        return True

    async def receive(self) -> str | bytes | None:
        while not self.closed:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                return text if text is not None else bytes(message.get("bytes") or b"")
            if kind == "websocket.disconnect":
                self.closed = True
        return None

    async def send(self, text: str) -> None:
        if self.closed:
            raise TransportClosed("the desktop has gone")
        try:
            await self._send({"type": "websocket.send", "text": text})
        except Exception as exc:  # the server's way of saying the socket is gone varies
            self.closed = True
            raise TransportClosed(str(exc)) from exc

    async def close(self, code: int = 1000) -> None:
        if self.closed:
            return
        self.closed = True
        with suppress(Exception):  # already closed by the client
            await self._send({"type": "websocket.close", "code": code})
