"""Helpers for the end-to-end tests: the served flows with agents open around the clock, an
agents file pointing at sipp "agent phones" (Alice, 8001, and Bob, 8002), and callers steered
node by node through the live call view. The desktops run in headless Chromium through
tests/cti/browser_support.py."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
import yaml
from hosting_support import ROOT, Server, SippRun
from sip_support import RtpPeer, _background, _run, free_media_port, sipp_binary, standing_udp_port
from trio_websocket import WebSocketConnection

from ivr.adapters.brokerage.clock import ALWAYS_OPEN_ENV

SCENARIOS = Path(__file__).parent / "scenarios"
AGENT, PASSWORD = "8001", "demo-8001"
BOB, BOB_PASSWORD = "8002", "demo-8002"
VIP = "13800138000"  # Zhang Wei, gold: account 31000001, trading PIN 135790 (demo data)
VIP_ACCOUNT, VIP_PIN = "31000001", "135790"
STANDARD = "13900139000"  # Li Na, standard tier
ALWAYS_OPEN = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@dataclass
class E2e:
    server: Server
    phones: dict[str, int]  # where the ACD rings each agent: extension -> port
    tts: Path  # the server's prompt cache
    carrier_port: int = 0  # the trunk's gateway: where callbacks (and campaigns) call out
    data: Path = Path()  # the server's data directory

    @property
    def phone_port(self) -> int:
        return self.phones[AGENT]


def start_e2e_server(workdir: Path, *extra: str) -> E2e:
    """`ivr serve` of flows/ with agents and the market open at any hour (the real calendars
    would make the result depend on the time of day), agent 8001 ringing a free port;
    `extra` are more `ivr serve` options."""
    flows = workdir / "flows"
    shutil.copytree(ROOT / "flows", flows)
    service = yaml.safe_load((flows / "service.yaml").read_text(encoding="utf-8"))
    for calendar in service["calendars"].values():
        calendar["hours"], calendar["holidays"] = ALWAYS_OPEN, []
    carrier = standing_udp_port()
    for trunk in service.get("trunks", {}).values():
        trunk["gateway"] = f"127.0.0.1:{carrier}"
    # No campaigns: the standing notification runs would call the carrier's one-call phone
    # (an order filled in one test rang into the next test's callback and took its phone).
    service.pop("campaigns", None)
    (flows / "service.yaml").write_text(yaml.safe_dump(service, allow_unicode=True), encoding="utf-8")
    demo = yaml.safe_load((ROOT / "config" / "agents.yaml").read_text(encoding="utf-8"))
    phones = {agent["extension"]: standing_udp_port() for agent in demo["agents"]}
    for agent in demo["agents"]:
        agent["phone"] = f"sip:{agent['extension']}@127.0.0.1:{phones[agent['extension']]}"
    agents = workdir / "agents.yaml"  # the demo's desk settings too: the order form
    agents.write_text(
        yaml.safe_dump({"agents": demo["agents"], "desktop": demo["desktop"]}), encoding="utf-8"
    )
    server = Server.start(
        workdir / "data",
        *("--agents", str(agents), "--announce-every", "20", "--agent-ring-seconds", "10"),
        *("--drain-seconds", "2"),
        *extra,
        flows=flows,
        tts=workdir / "tts",
        env={ALWAYS_OPEN_ENV: "1"},  # the back office's own trading hours, like the calendars
    )
    return E2e(server, phones, workdir / "tts", carrier, workdir / "data")


class Desktop:
    """The CTI protocol over a WebSocket, keeping events that arrive while it awaits a reply."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.pending: list[dict[str, Any]] = []
        self.sent = 0

    async def command(self, command: str, **fields: object) -> dict[str, Any]:
        reply = await self.attempt(command, **fields)
        assert reply["ok"], reply
        return reply

    async def attempt(self, command: str, **fields: object) -> dict[str, Any]:
        """A command whose reply may be an error (`ok` false, `error` its code and message)."""
        self.sent += 1
        await self.ws.send_message(json.dumps({"id": self.sent, "command": command, **fields}))
        return await self._next(lambda m: m.get("reply") == self.sent, 20)

    async def event(self, name: str, timeout: float = 20) -> dict[str, Any]:
        return await self._next(lambda m: m.get("event") == name, timeout)

    async def _next(self, wanted: Any, timeout: float) -> dict[str, Any]:
        for message in self.pending:
            if wanted(message):
                self.pending.remove(message)
                return message
        with trio.fail_after(timeout):
            while True:
                message = json.loads(await self.ws.get_message())
                if wanted(message):
                    return dict(message)
                self.pending.append(message)


def start_agent_phone(
    nursery: trio.Nursery, port: int, rtp_port: int, workdir: Path, *, calls: int = 1
) -> tuple[SippRun, Path]:
    """sipp as the agent's phone on 127.0.0.1:`port`; its SIP messages go to the log returned."""
    sipp = sipp_binary()
    assert sipp is not None
    workdir.mkdir(parents=True, exist_ok=True)
    messages = workdir / "agent-phone-messages.log"
    cmd = [sipp, "-sf", str(SCENARIOS / "agent_phone.xml"), "-i", "127.0.0.1", "-p", str(port)]
    cmd += ["-mp", str(free_media_port()), "-m", str(calls), "-nostdin", "-timeout", "80s", "-timeout_error"]
    cmd += ["-trace_err", "-trace_msg", "-message_file", str(messages), "-key", "rtp_port", str(rtp_port)]
    return _background(nursery, _run(cmd, workdir)), messages


def invite_headers(messages: Path) -> list[dict[str, str]]:
    """The headers of each INVITE the agent's phone received (from sipp's message log)."""
    text = messages.read_text(errors="replace")
    invites = re.findall(r"^INVITE sip:.*?(?=\r?\n\r?\n)", text, flags=re.M | re.S)
    return [dict(re.findall(r"^([A-Za-z-]+):\s*(.*?)\r?$", invite, flags=re.M)) for invite in invites]


async def live_call(server: Server, caller: str, timeout: float = 10) -> dict[str, Any]:
    """The call in progress from `caller`."""
    with trio.fail_after(timeout):
        while True:
            for call in (await server.get("/calls"))["calls"]:
                if call["caller"] == caller:
                    return dict(call)
            await trio.sleep(0.05)


async def at_node(server: Server, call_id: str, node: str, timeout: float = 20) -> None:
    """Wait until the call has entered `node` (its flow is there, maybe speaking)."""
    with trio.fail_after(timeout):
        while True:
            for call in (await server.get("/calls"))["calls"]:
                if call["id"] == call_id and call["node"] == node:
                    await trio.sleep(0.3)  # the node's prompt has begun
                    return
            await trio.sleep(0.05)


async def press(server: Server, peer: RtpPeer, call_id: str, steps: list[tuple[str, str]]) -> None:
    """At each (node, keys): wait for the node, then key them (RFC 4733)."""
    for node, keys in steps:
        await at_node(server, call_id, node)
        await peer.send_dtmf(keys)


async def ended(server: Server, call_id: str) -> dict[str, Any]:
    """The call's entry in /calls/recent, once it is there (the server notes the end just
    after the caller's BYE; an earlier call from the same caller may be there already)."""
    with trio.fail_after(10):
        while True:
            for call in (await server.get("/calls/recent?n=200"))["calls"]:
                if call["id"] == call_id:
                    return dict(call)
            await trio.sleep(0.1)


async def health_until(server: Server, check: Callable[[dict[str, Any]], bool], timeout: float = 20) -> None:
    with trio.fail_after(timeout):
        while True:
            if check(await server.get("/health")):
                return
            await trio.sleep(0.05)
