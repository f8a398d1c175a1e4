"""`ivr serve` end to end, each test with its own server: whole-call recording muted
during a secret entry, the capacity limit (503), the graceful shutdown on SIGTERM, and a
bad agents file or a busy HTTP port refused at start-up."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import wave
from array import array
from pathlib import Path

import trio
from hosting_support import IVR, ROOT, Server, open_rtp_peer, start_caller

TEST_FLOWS = Path(__file__).parent / "flows"  # number 700: hello, a secret PIN, goodbye


def _levels(path: Path) -> list[int]:
    """The peak level of each 20 ms frame of a WAV recording."""
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == 8000
        samples = array("h", w.readframes(w.getnframes()))
    return [max((abs(s) for s in samples[i : i + 160]), default=0) for i in range(0, len(samples), 160)]


async def test_a_recorded_call_has_the_callers_voice_but_silence_during_the_secret_pin(
    tmp_path: Path, tts_cache: Path
) -> None:
    server = Server.start(tmp_path / "data", "--record-calls", flows=TEST_FLOWS, tts=tts_cache)
    try:
        peer = await open_rtp_peer()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer.receive_forever)
            keys = {"caller": "13900000006", "rtp_port": str(peer.port)}
            sipp = start_caller(nursery, server, "uac_until_bye.xml", tmp_path, number="700", keys=keys)
            nursery.start_soon(peer.send_tone, 12.0)  # the caller talks all along

            async def key_the_pin() -> None:
                await trio.sleep(3.5)  # in the PIN prompt (after "Hello. This call is recorded.")
                await peer.send_dtmf("1234#")

            nursery.start_soon(key_the_pin)
            await sipp.wait_ok(timeout=25)
            nursery.cancel_scope.cancel()
        call = await server.recent_call("13900000006")
        assert call["how"] == "completed"
        trace = await server.get(f"/calls/{call['id']}/trace")
        inputs = [e["detail"] for e in trace["events"] if e["kind"] == "input"]
        assert inputs == [{"outcome": "match", "variable": "pin", "value": "***"}]
        assert re.search(r"(?<![0-9])1234(?![0-9])", str(trace)) is None  # not inside a timestamp's digits
        rows = server.db("SELECT path, metadata FROM recordings WHERE call_id = ?", call["id"])
    finally:
        assert server.stop() == 0, server.output()

    [(path, metadata)] = rows
    assert '"call"' in metadata
    levels = _levels(Path(path))
    loud = [level > 2000 for level in levels]
    first_loud, last_loud = loud.index(True), len(loud) - 1 - loud[::-1].index(True)
    quiet_run = _longest_run([level < 200 for level in levels[first_loud:last_loud]])
    assert sum(loud) >= 100  # 2 s and more of the caller's voice...
    assert quiet_run >= 75  # ...around 1.5 s and more of silence: the PIN prompt and the keys


def _longest_run(flags: list[bool]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


async def test_beyond_the_capacity_a_call_is_refused_with_503(tmp_path: Path, tts_cache: Path) -> None:
    server = Server.start(tmp_path / "data", "--capacity", "2", tts=tts_cache)
    try:
        async with trio.open_nursery() as nursery:
            held = [
                start_caller(
                    nursery,
                    server,
                    "uac_call.xml",
                    tmp_path / f"c{i}",
                    keys={"caller": f"1390000007{i}", "hold": "3000"},
                )
                for i in (1, 2)
            ]
            await server.wait_health("calls_active", 2)
            third = start_caller(
                nursery, server, "uac_refused_503.xml", tmp_path / "c3", keys={"caller": "13900000073"}
            )
            await third.wait_ok()
            for run in held:
                await run.wait_ok()
        metrics = await server.get("/metrics")
        assert 'ivr_calls_rejected_total{reason="capacity",tenant="brokerage"} 1' in metrics
        assert (await server.get("/health"))["capacity"] == 2
    finally:
        assert server.stop() == 0, server.output()


async def test_sigterm_refuses_new_calls_ends_the_running_one_at_the_drain_limit_and_exits_0(
    tmp_path: Path, tts_cache: Path
) -> None:
    data = tmp_path / "data"
    server = Server.start(data, "--drain-seconds", "2", tts=tts_cache)
    async with trio.open_nursery() as nursery:
        staying = start_caller(
            nursery, server, "uac_until_bye.xml", tmp_path / "a", keys={"caller": "13900000091"}
        )
        await server.wait_health("calls_active", 1)
        server.process.send_signal(signal.SIGTERM)
        signalled = trio.current_time()
        await server.wait_health("status", "draining", timeout=2)
        refused = start_caller(
            nursery, server, "uac_refused_503.xml", tmp_path / "b", keys={"caller": "13900000092"}
        )
        await refused.wait_ok()
        await staying.wait_ok()  # the server's BYE at the drain limit
        assert 1.8 < trio.current_time() - signalled < 6
        returncode = await trio.to_thread.run_sync(server.process.wait, 15)
    assert returncode == 0, server.output()

    [(call_id, how, ended)] = server.db("SELECT call_id, how, ended_at FROM calls")
    assert how == "interrupted" and ended  # closed by the server itself, at the drain limit
    kinds = [kind for kind, _, _ in server.events(call_id)]
    assert "drain_limit" in kinds and "call_interrupted" not in kinds

    again = Server.start(data, tts=tts_cache)  # the next start finds nothing left open
    try:
        assert "left open by the last run" not in again.output()
        assert again.db("SELECT count(*) FROM events WHERE kind = 'call_interrupted'") == [(0,)]
    finally:
        assert again.stop() == 0, again.output()


def test_a_bad_agents_file_stops_the_start_with_its_message(tmp_path: Path) -> None:
    agents = tmp_path / "agents.yaml"
    agents.write_text('agents:\n  - {extension: "8001", password: demo, phone: "sip:8001@127.0.0.1"}\n')
    cmd = [str(IVR), "serve", "--flows", str(ROOT / "flows"), "--data-dir", str(tmp_path / "data")]
    cmd += ["--sip-port", "0", "--http-port", "0", "--agents", str(agents)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert result.returncode == 1
    assert f"ivr serve: {agents}: agents[0]: plain `password` is not allowed" in result.stderr


def test_an_http_port_in_use_stops_the_start_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cmd = [str(IVR), "serve", "--flows", str(ROOT / "flows"), "--data-dir", str(tmp_path / "data")]
        cmd += ["--sip-port", "0", "--http-port", str(port), "--agents", "none"]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"ivr serve: HTTP cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "Traceback" not in result.stderr
