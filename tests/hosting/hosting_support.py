"""Test helpers for the hosted runtime: `ivr serve` as a real subprocess on 127.0.0.1 with
free ports, its HTTP API, its SQLite records, and sipp callers.

The caller's audio side is the SIP adapter's tests' RTP peer (`sip_support.RtpPeer`): the
scenarios point the server's RTP at it, so the test counts the prompt audio itself and
sends RFC 4733 DTMF from the address the server expects.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

sys.path.insert(0, str(Path(__file__).parents[1] / "adapters" / "sip"))

from sip_support import (
    RtpPeer,
    SippRun,
    _background,
    _run,
    free_media_port,
    free_udp_port,
    open_rtp_peer,
    sipp_binary,
)

ROOT = Path(__file__).parents[2]
IVR = ROOT / ".venv" / "bin" / "ivr"
SCENARIOS = Path(__file__).parent / "scenarios"
SIP_SCENARIOS = ROOT / "tests" / "adapters" / "sip" / "scenarios"

__all__ = ["RtpPeer", "Server", "SippRun", "free_udp_port", "open_rtp_peer", "start_caller"]


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_sip_port() -> int:
    """A port free for both UDP and TCP (the server listens for SIP on both)."""
    while True:
        port = free_udp_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


@dataclass
class Server:
    """One `ivr serve` process."""

    process: subprocess.Popen[bytes]
    sip_port: int
    http_port: int
    data_dir: Path
    log: Path

    @classmethod
    def start(
        cls,
        data_dir: Path,
        *extra: str,
        flows: Path | None = None,
        tts: Path | None = None,
        env: dict[str, str] | None = None,
        overload_control: bool = False,
    ) -> Server:
        """`overload_control`: keep the server's default lag limits. Off by default: on this
        shared test machine a browser or a phone starting beside the server can hold the SIP
        thread past 0.1 s once, and a test's one caller would get 503 (seen in CI); the
        overload tests turn it on."""
        sip_port, http_port = free_sip_port(), free_tcp_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(IVR), "serve", "--sip-port", str(sip_port), "--http-port", str(http_port)]
        cmd += ["--data-dir", str(data_dir), "--flows", str(flows or ROOT / "flows"), *extra]
        if not overload_control:
            cmd += ["--no-overload-control"]
        if tts is not None:
            cmd += ["--tts-cache", str(tts)]
        log = data_dir / f"server-{sip_port}.log"
        with log.open("wb") as out:
            environment = {**os.environ, **env} if env else None
            process = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, cwd=str(data_dir), env=environment
            )
        server = cls(process, sip_port, http_port, data_dir, log)
        server.wait_healthy()
        return server

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"ivr serve exited {self.process.returncode}:\n{self.output()}")
            try:
                body = httpx.get(self.url("/health"), timeout=1.0).json()
                done, total = body["prompts_prerendered"].split("/")
                if body["status"] == "ok" and done == total:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"ivr serve not healthy in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"ivr serve did not stop in {timeout} s:\n{self.output()}") from None

    # -- reading its state --------------------------------------------------------------
    async def get(self, path: str) -> Any:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(self.url(path))
        response.raise_for_status()
        return response.json() if "json" in response.headers["content-type"] else response.text

    async def recent_call(self, caller: str, timeout: float = 5.0) -> dict[str, Any]:
        """The newest ended call from `caller` (waits for it to end)."""
        with trio.fail_after(timeout):
            for _ in range(10_000):
                for call in (await self.get("/calls/recent?n=200"))["calls"]:
                    if call["caller"] == caller:
                        return dict(call)
                await trio.sleep(0.1)
        raise AssertionError(f"no ended call from {caller}")

    async def wait_health(self, key: str, value: object, timeout: float = 5.0) -> None:
        """Poll /health until `key` has `value` (or, for numbers, at least `value`)."""
        with trio.fail_after(timeout):
            for _ in range(10_000):
                found = (await self.get("/health"))[key]
                if found == value or (isinstance(value, int) and isinstance(found, int) and found >= value):
                    return
                await trio.sleep(0.05)

    def db(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.data_dir / "calls.sqlite3")
        try:
            return list(conn.execute(query, params))
        finally:
            conn.close()

    def events(self, call_id: str) -> list[tuple[str, str | None, dict[str, Any]]]:
        rows = self.db("SELECT kind, node, detail FROM events WHERE call_id = ? ORDER BY seq", call_id)
        return [(kind, node, json.loads(detail)) for kind, node, detail in rows]


def start_caller(
    nursery: trio.Nursery,
    server: Server,
    scenario: str,
    workdir: Path,
    *,
    number: str = "95500",
    keys: dict[str, str] | None = None,
    timeout: int = 20,
    tcp: bool = False,
    trace: bool = False,
) -> SippRun:
    """One sipp call of `scenario` (ours, else the SIP adapter's) to `number` on `server`,
    over UDP, or over TCP (one connection) with `tcp`; `trace` logs its messages into
    `workdir` (`*_messages.log`)."""
    path = SCENARIOS / scenario if (SCENARIOS / scenario).exists() else SIP_SCENARIOS / scenario
    sipp = sipp_binary()
    assert sipp is not None
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sipp, "-sf", str(path), "-i", "127.0.0.1", "-p", str(free_udp_port())]
    cmd += ["-mp", str(free_media_port()), "-m", "1", "-l", "1", "-nostdin", "-s", number]
    cmd += ["-timeout", f"{timeout}s", "-timeout_error", "-trace_err", *(["-t", "t1"] if tcp else [])]
    cmd += ["-trace_msg"] if trace else []
    for key, value in {"caller": "13800138000", "rtp_port": str(free_udp_port()), **(keys or {})}.items():
        cmd += ["-key", key, value]
    cmd.append(f"127.0.0.1:{server.sip_port}")
    return _background(nursery, _run(cmd, workdir))


def environment_ready() -> str | None:
    """Why these tests cannot run here, or None."""
    if not IVR.exists():
        return f"{IVR} is missing (make setup)"
    if sipp_binary() is None:
        return "sipp is not installed (apt-get install sip-tester)"
    if os.system("command -v espeak-ng >/dev/null") != 0:
        return "espeak-ng is not installed"
    return None
