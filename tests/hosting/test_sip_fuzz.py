"""SIP entry fuzzing against a running `ivr serve` (see `sip_fuzz` for the seeds and the
mutations): no crash, no hang, bounded memory, and a clean call still works afterwards.
`scripts/fuzz_sip.py` is the long run. Also the holes the fuzzing found: a caller's REFER
made the server dial whatever its Refer-To said; one INVITE whose Contact named SCTP over
IPv6 crashed pjsip (patched in scripts/build-pjsua2.sh)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import trio
from hosting_support import Server, open_rtp_peer, start_caller
from sip_fuzz import Fuzzer, seeds

BATCHES, PER_BATCH = 4, 1000


def rss_mib(server: Server) -> float:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024


def sip_thread_answers(server: Server) -> bool:
    """An OPTIONS gets its 200 within a second: the pjsua2 thread is not stuck."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(1.0)
        fuzzer = Fuzzer("127.0.0.1", server.sip_port, seed=0)
        try:
            dialog = fuzzer._new_dialog()
            dialog.port = sock.getsockname()[1]
            sock.sendto(seeds(dialog, fuzzer.target, 9)["OPTIONS"].encode(), ("127.0.0.1", server.sip_port))
            return sock.recv(65535).startswith(b"SIP/2.0 200")
        except TimeoutError:
            return False
        finally:
            fuzzer.close()


def final_answer(sock: socket.socket) -> bytes:
    """The first final (>= 200) response that arrives on `sock`."""
    while True:
        data = sock.recv(65535)
        if not data.startswith(b"SIP/2.0 1"):
            return data


async def test_a_callers_refer_is_declined_and_the_ivr_dials_no_one(server: Server) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as victim:
        victim.bind(("127.0.0.1", 0))
        victim.settimeout(2.0)
        fuzzer = Fuzzer("127.0.0.1", server.sip_port, seed=1)
        try:
            dialog = fuzzer._new_dialog()
            fuzzer.sock.sendto(seeds(dialog, fuzzer.target, 9)["INVITE"].encode(), fuzzer.address)
            dialog.to_tag = await trio.to_thread.run_sync(fuzzer._answer_tag, dialog.call_id) or ""
            assert dialog.to_tag, "the call was not answered"
            messages = seeds(dialog, fuzzer.target, 9)
            fuzzer.sock.sendto(messages["ACK"].encode(), fuzzer.address)
            toll = f"Refer-To: <sip:+19005550100@127.0.0.1:{victim.getsockname()[1]}>"
            refer = messages["REFER"].replace(f"Refer-To: <sip:8001@{fuzzer.target}>", toll)
            fuzzer.sock.sendto(refer.encode(), fuzzer.address)
            answer = await trio.to_thread.run_sync(fuzzer.sock.recv, 65535)
            assert answer.startswith(b"SIP/2.0 603"), answer[:60]
            with pytest.raises(TimeoutError):
                await trio.to_thread.run_sync(victim.recv, 65535)  # no INVITE to the "victim"
            fuzzer.sock.sendto(messages["BYE"].encode(), fuzzer.address)
        finally:
            fuzzer.close()


@pytest.mark.parametrize("transport", ["sctp", "loop", "loop-dgram"])
async def test_an_invite_whose_contact_names_a_transport_pjsip_cannot_use_over_ipv6_is_refused(
    server: Server, transport: str
) -> None:
    fuzzer = Fuzzer("127.0.0.1", server.sip_port, seed=2)
    try:
        dialog = fuzzer._new_dialog()
        invite = seeds(dialog, fuzzer.target, 9)["INVITE"]
        contact = f"Contact: <sip:{dialog.caller}@127.0.0.1:{dialog.port}>"
        fuzzer.sock.sendto(
            invite.replace(contact, f"Contact: <sip:x@[::1]:5099;transport={transport}>").encode(),
            fuzzer.address,
        )
        answer = await trio.to_thread.run_sync(final_answer, fuzzer.sock)
        assert answer.startswith(b"SIP/2.0 500"), answer[:60]  # pjsua: no Contact for that
    finally:
        fuzzer.close()
    assert server.process.poll() is None, server.output()  # one packet used to kill it
    assert await trio.to_thread.run_sync(sip_thread_answers, server)


@pytest.mark.slow
async def test_mutated_sip_neither_crashes_nor_stalls_nor_bloats_the_server(
    tmp_path: Path, tts_cache: Path
) -> None:
    server = Server.start(tmp_path / "data", "--drain-seconds", "1", tts=tts_cache)
    try:
        fuzzer = Fuzzer("127.0.0.1", server.sip_port, seed=20261203)
        growth: list[float] = []
        try:
            for batch in range(BATCHES):
                before = rss_mib(server)
                await trio.to_thread.run_sync(fuzzer.run, PER_BATCH * (batch + 1) - fuzzer.report.total)
                assert server.process.poll() is None, server.output()
                started = time.monotonic()
                assert (await server.get("/health"))["status"] == "ok"
                assert time.monotonic() - started < 1.0
                assert await trio.to_thread.run_sync(sip_thread_answers, server)
                growth.append(rss_mib(server) - before)
        finally:
            fuzzer.close()
        report = fuzzer.report
        assert report.total == BATCHES * PER_BATCH and report.dialogs > 10
        assert set(report.sent) >= {"INVITE", "ACK", "INFO", "BYE", "CANCEL", "REFER", "OPTIONS"}
        # Memory: calls the fuzzing started hold some (they end within seconds); no leak
        # that grows batch after batch beyond that.
        assert sum(growth) < 120, growth

        peer = await open_rtp_peer()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer.receive_forever)
            keys = {"caller": "13900000555", "rtp_port": str(peer.port), "hold": "2000"}
            await start_caller(nursery, server, "uac_call.xml", tmp_path / "clean", keys=keys).wait_ok()
            nursery.cancel_scope.cancel()
        assert peer.voiced() >= 40
        assert (await server.recent_call("13900000555"))["how"] == "caller_hangup"
    finally:
        assert server.stop(timeout=40) == 0, server.output()
