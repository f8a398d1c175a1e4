"""Fault injection over SIP, a representative subset: `ivr serve` runs the fault service
(tests/faults/service, number 900) and sipp callers stay until it hangs up. The data
operation answers malformed data (the mode is a file the plug-in reads); then the outbox is
locked by another process (its writers wait 10 s, then fail); then, in a server whose
espeak-ng fails, a prompt cannot be rendered. Every call ends on the path the fault's kind
declares (the same table as the engine-level runs), with its record closed, and the server
keeps answering. The engine-level runs (tests/faults, scripts/fault_runs.py) cover every
kind in number.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trio
from hosting_support import ROOT, Server, open_rtp_peer, start_caller

sys.path.insert(0, str(ROOT / "tests" / "faults"))
from fault_harness import KINDS, SERVICE, failing_espeak

pytestmark = [pytest.mark.slow, pytest.mark.alone]
CALLS = 5


async def calls_under(server: Server, workdir: Path, first: int, calls: int = CALLS) -> list[str]:
    """`calls` concurrent callers (numbers first, first+1, ...) who stay until the BYE."""
    callers = [f"139{first + i:08d}" for i in range(calls)]
    async with trio.open_nursery() as nursery:
        runs = [
            start_caller(
                nursery,
                server,
                "uac_until_bye.xml",
                workdir / c,
                number="900",
                keys={"caller": c},
                timeout=70,
            )
            for c in callers
        ]
        for run in runs:
            await run.wait_ok(timeout=80)
    return callers


async def assert_declared(server: Server, kind: str, callers: list[str]) -> None:
    declared = KINDS[kind]
    for caller in callers:
        await server.recent_call(caller, timeout=15)  # its record is closed once it is listed
        [(call_id, how, ended)] = server.db(
            "SELECT call_id, how, ended_at FROM calls WHERE caller = ?", caller
        )
        path = tuple(n for k, n, _ in server.events(call_id) if k == "node_entered")
        assert ended and how in declared.endings and path in declared.paths, (kind, caller, how, path)


@contextmanager
def locked(database: Path) -> Iterator[None]:
    """Another process holds `database` locked (its writers wait, then fail)."""
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(database, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        release.wait(120)
        conn.execute("ROLLBACK")
        conn.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join()


async def test_under_faults_over_sip_every_call_ends_on_a_declared_path_and_the_server_stays_up(
    tmp_path: Path, tts_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mode = tmp_path / "fault-mode"
    monkeypatch.setenv("IVR_FAULT_MODE_FILE", str(mode))
    server = Server.start(tmp_path / "data", flows=SERVICE, tts=tts_cache)
    try:
        await trio.to_thread.run_sync(mode.write_text, KINDS["op_malformed"].mode)
        await assert_declared(server, "op_malformed", await calls_under(server, tmp_path / "malformed", 0))
        await trio.to_thread.run_sync(mode.write_text, "ok")
        with locked(server.data_dir / "outbox.sqlite3"):
            # The outbox's writes queue behind one another, each waiting SQLite's 10 s
            # busy timeout: two callers take 20 s to be told the message was not sent.
            callers = await calls_under(server, tmp_path / "outbox", 300, calls=2)
        await assert_declared(server, "outbox_failing", callers)
        assert (await server.get("/health"))["status"] == "ok"
    finally:
        assert server.stop() == 0, server.output()

    # espeak-ng failing: the static prompts come from the cache, the balance cannot be said.
    bin_dir = failing_espeak(tmp_path / "bin").parent
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ.get('PATH', '')}")
    broken = Server.start(tmp_path / "data-tts", flows=SERVICE, tts=tts_cache)
    try:
        peer = await open_rtp_peer()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer.receive_forever)
            keys = {"caller": "13900000400", "rtp_port": str(peer.port)}
            run = start_caller(
                nursery, broken, "uac_until_bye.xml", tmp_path / "tts", number="900", keys=keys
            )
            await run.wait_ok(timeout=40)
            nursery.cancel_scope.cancel()
        await assert_declared(broken, "tts_failing", ["13900000400"])
        assert peer.voiced() > 50  # "Hello." and the fallback were heard
        assert (await broken.get("/health"))["status"] == "ok"
    finally:
        assert broken.stop() == 0, broken.output()
