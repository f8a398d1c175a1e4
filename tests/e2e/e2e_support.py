"""Helpers for the end-to-end tests: the served flows with agents open around the clock, an
agents file pointing at a sipp "agent phone", callers steered node by node through the live
call view, and the agent desktop in headless Chromium (playwright, in a worker thread)."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
import yaml
from hosting_support import ROOT, Server, SippRun, free_udp_port
from sip_support import RtpPeer, _background, _run, free_media_port, sipp_binary

SCENARIOS = Path(__file__).parent / "scenarios"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AGENT, PASSWORD = "8001", "demo-8001"
VIP = "13800138000"  # Zhang Wei, gold: account 31000001, trading PIN 135790 (demo data)
VIP_ACCOUNT, VIP_PIN = "31000001", "135790"
STANDARD = "13900139000"  # Li Na, standard tier
ALWAYS_OPEN = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@dataclass
class E2e:
    server: Server
    phone_port: int  # where the ACD rings agent 8001
    tts: Path  # the server's prompt cache


def start_e2e_server(workdir: Path) -> E2e:
    """`ivr serve` of flows/ with agents and the market open at any hour (the real calendars
    would make the result depend on the time of day), agent 8001 ringing a free port."""
    flows = workdir / "flows"
    shutil.copytree(ROOT / "flows", flows)
    service = yaml.safe_load((flows / "service.yaml").read_text(encoding="utf-8"))
    for calendar in service["calendars"].values():
        calendar["hours"], calendar["holidays"] = ALWAYS_OPEN, []
    (flows / "service.yaml").write_text(yaml.safe_dump(service, allow_unicode=True), encoding="utf-8")
    phone_port = free_udp_port()
    demo = yaml.safe_load((ROOT / "config" / "agents.yaml").read_text(encoding="utf-8"))
    [alice] = [a for a in demo["agents"] if a["extension"] == AGENT]
    alice["phone"] = f"sip:{AGENT}@127.0.0.1:{phone_port}"
    agents = workdir / "agents.yaml"
    agents.write_text(yaml.safe_dump({"agents": [alice]}), encoding="utf-8")
    server = Server.start(
        workdir / "data",
        *("--agents", str(agents), "--announce-every", "20", "--agent-ring-seconds", "10"),
        *("--drain-seconds", "2"),
        flows=flows,
        tts=workdir / "tts",
    )
    return E2e(server, phone_port, workdir / "tts")


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


async def health_until(server: Server, check: Callable[[dict[str, Any]], bool], timeout: float = 20) -> None:
    with trio.fail_after(timeout):
        while True:
            if check(await server.get("/health")):
                return
            await trio.sleep(0.05)


@dataclass
class Desk:
    """The agent desktop in Chromium, run by `drive` in a worker thread, step by step at the
    test's signal (threading events, so the trio side never blocks)."""

    chromium: str
    url: str
    profile: Path
    logged_in: threading.Event = field(default_factory=threading.Event)
    go_ready: threading.Event = field(default_factory=threading.Event)
    talking: threading.Event = field(default_factory=threading.Event)
    hang_up: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    texts: dict[str, str] = field(default_factory=dict)

    def _wait(self, event: threading.Event, timeout: float = 60) -> None:
        for _ in range(int(timeout * 10)):
            if event.is_set():
                return
            if self.stop.is_set():
                raise RuntimeError("the test stopped the desktop")
            time.sleep(0.1)
        raise TimeoutError("the test did not signal the desktop in time")

    def drive(self) -> dict[str, str]:
        from playwright.sync_api import expect, sync_playwright

        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                str(self.profile),
                executable_path=self.chromium,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1200, "height": 800},
            )
            try:
                page = context.new_page()
                page.set_default_timeout(20_000)
                page.goto(f"{self.url}/desktop/")
                page.fill("#extension", AGENT)
                page.fill("#password", PASSWORD)
                page.click("#login button[type=submit]")
                expect(page.locator("#state")).to_have_attribute("data-state", "not_ready")
                self.logged_in.set()
                self._wait(self.go_ready)
                page.click("#ready")
                expect(page.locator("#call-status")).to_have_text("talking")
                expect(page.locator("#screen")).to_contain_text(VIP_ACCOUNT)
                self.texts |= {"screen": page.inner_text("#screen"), "facts": page.inner_text("#call-facts")}
                self.talking.set()
                self._wait(self.hang_up)
                self.texts["page"] = page.inner_text("body")
                page.click("#hangup")
                expect(page.locator("#wrapup")).to_be_visible()
                page.select_option("#disposition", "resolved")
                page.fill("#notes", "Asked about his gold-tier fees")
                page.uncheck("#wrapup-ready")
                page.click("#wrapup button[type=submit]")
                expect(page.locator("#notice")).to_have_text("Disposition saved")
                self.texts["notice"] = page.inner_text("#notice")
                page.click("#not-ready")
                expect(page.locator("#state")).to_have_attribute("data-state", "not_ready")
                return self.texts
            finally:
                context.close()
