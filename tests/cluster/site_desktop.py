"""An agent's desktop for the sites test, run inside a site's network namespace (the test
process cannot reach the namespaces' addresses): `python site_desktop.py BASE_URL OUT`.

It logs agent 8001 in on the CTI WebSocket at BASE_URL, goes ready, and when a call is
connected puts it on hold and takes it off again; every message it receives, and each
command's reply, is written to OUT as one JSON line. It stops when the call has ended (or
after two minutes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

AGENT, PASSWORD = "8001", "demo-8001"


async def main(base: str, out: Path) -> None:
    async with httpx.AsyncClient() as http:
        login = await http.post(f"{base}/cti/login", json={"extension": AGENT, "password": PASSWORD})
        login.raise_for_status()
    with out.open("w", encoding="utf-8") as log, trio.fail_after(120):
        sent = 0

        def write(message: dict[str, Any]) -> None:
            log.write(json.dumps(message) + "\n")
            log.flush()

        async def command(ws: WebSocketConnection, name: str, **fields: object) -> None:
            nonlocal sent
            sent += 1
            await ws.send_message(json.dumps({"id": sent, "command": name, **fields}))

        async with open_websocket_url(base.replace("http://", "ws://") + "/cti/ws") as ws:
            await command(ws, "login", token=login.json()["token"])
            await command(ws, "state", state="ready")
            while True:
                message = json.loads(await ws.get_message())
                write(message)
                if message.get("event") == "connected":
                    await command(ws, "hold", call_id=message["call_id"], on=True)
                    await command(ws, "hold", call_id=message["call_id"], on=False)
                elif message.get("event") == "ended":
                    return


if __name__ == "__main__":
    trio.run(main, sys.argv[1], Path(sys.argv[2]))
