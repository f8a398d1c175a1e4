"""The CTI session's `Transport` over a Starlette WebSocket (hypercorn speaks the protocol;
`wsproto` does the framing underneath).

Place: the wire end of the CTI adapter, used by `ivr.adapters.cti.app` for WS /cti/ws.
"""

from __future__ import annotations

from contextlib import suppress

from starlette.websockets import WebSocket

from ivr.adapters.cti.session import TransportClosed


class StarletteSocket:
    """`Transport` over one accepted WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        self.closed = False

    @property
    def address(self) -> str | None:
        client = self._ws.client
        return client.host if client is not None else None

    async def receive(self) -> str | bytes | None:
        while not self.closed:
            message = await self._ws.receive()
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
            await self._ws.send_text(text)
        except Exception as exc:  # the server's way of saying the socket is gone varies
            self.closed = True
            raise TransportClosed(str(exc)) from exc

    async def close(self, code: int = 1000) -> None:
        if self.closed:
            return
        self.closed = True
        with suppress(Exception):  # already closed by the client
            await self._ws.close(code)
