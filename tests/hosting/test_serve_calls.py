"""`ivr serve` end to end: sipp callers on 127.0.0.1 against the real server process.

Calls to the brokerage's 95500 on one shared server: the Mandarin welcome's audio (over UDP
and over TCP), DTMF by RFC 4733 and by SIP INFO leading to the chosen node, the caller
hanging up mid-prompt, an unknown number (404), a CANCEL while it rings (487), a burst
of garbage at the SIP port, and the media address its SDP offers.
"""

from __future__ import annotations

import os
import random
import socket
import time
from pathlib import Path
from typing import Any

import trio
from hosting_support import Server, open_rtp_peer, start_caller


def _steps(trace: dict[str, Any]) -> list[tuple[str, str | None, object]]:
    return [(e["kind"], e["node"], e["detail"].get("edge")) for e in trace["events"]]


async def test_a_call_to_95500_hears_the_mandarin_welcome_and_key_1_chooses_mandarin(
    server: Server, tmp_path: Path
) -> None:
    peer = await open_rtp_peer()
    caller = "13900000001"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.receive_forever)
        keys = {"caller": caller, "rtp_port": str(peer.port), "hold": "5000"}
        sipp = start_caller(nursery, server, "uac_call.xml", tmp_path, keys=keys)
        with trio.fail_after(10):
            await peer.first_packet.wait()
        start = trio.current_time()
        await trio.sleep(2.0)
        await peer.send_dtmf("1")
        await sipp.wait_ok()
        nursery.cancel_scope.cancel()

    assert peer.voiced(start, start + 2.0) >= 40  # 2 s is 100 packets of 20 ms; most are speech
    call = await server.recent_call(caller)
    assert (call["dialed"], call["flow"], call["how"]) == ("95500", "main", "caller_hangup")
    trace = await server.get(f"/calls/{call['id']}/trace")
    welcome = next(e for e in trace["events"] if e["kind"] == "prompt")
    assert welcome["node"] == "choose_language"
    assert welcome["detail"]["language"] == "zh"
    assert welcome["detail"]["text"].startswith("欢迎致电95500")
    steps = _steps(trace)
    assert ("node_left", "choose_language", "1") in steps
    assert ("node_entered", "to_mandarin", None) in steps
    # The durable record is complete and says the same.
    [(flow, how, ended)] = server.db("SELECT flow, how, ended_at FROM calls WHERE call_id = ?", call["id"])
    assert (flow, how) == ("main", "caller_hangup") and ended
    assert [(k, n) for k, n, _ in server.events(call["id"])] == [(k, n) for k, n, _ in steps]


async def test_a_call_over_tcp_hears_the_welcome(server: Server, tmp_path: Path) -> None:
    peer = await open_rtp_peer()
    caller = "13900000009"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.receive_forever)
        keys = {"caller": caller, "rtp_port": str(peer.port), "hold": "3000"}
        sipp = start_caller(nursery, server, "uac_call.xml", tmp_path, keys=keys, tcp=True)
        with trio.fail_after(10):
            await peer.first_packet.wait()
        start = trio.current_time()
        await sipp.wait_ok()
        nursery.cancel_scope.cancel()
    assert peer.voiced(start, start + 2.0) >= 40
    call = await server.recent_call(caller)
    assert (call["dialed"], call["flow"], call["how"]) == ("95500", "main", "caller_hangup")
    trace = await server.get(f"/calls/{call['id']}/trace")
    welcome = next(e for e in trace["events"] if e["kind"] == "prompt")
    assert welcome["node"] == "choose_language" and welcome["detail"]["text"].startswith("欢迎致电95500")


async def test_a_caller_hanging_up_mid_prompt_ends_the_record_as_caller_hangup(
    server: Server, tmp_path: Path
) -> None:
    caller = "13900000002"
    async with trio.open_nursery() as nursery:
        sipp = start_caller(
            nursery, server, "uac_call.xml", tmp_path, keys={"caller": caller, "hold": "1000"}
        )
        await sipp.wait_ok()
    call = await server.recent_call(caller)
    assert call["how"] == "caller_hangup"
    trace = await server.get(f"/calls/{call['id']}/trace")
    steps = _steps(trace)
    assert steps[-1][:2] == ("prompt", "choose_language")  # cut in the welcome prompt
    assert ("node_left", "choose_language", "1") not in steps
    [(how,)] = server.db("SELECT how FROM calls WHERE call_id = ? AND ended_at IS NOT NULL", call["id"])
    assert how == "caller_hangup"


async def test_an_unknown_number_is_refused_with_404_and_leaves_no_record(
    server: Server, tmp_path: Path
) -> None:
    caller = "13900000003"
    async with trio.open_nursery() as nursery:
        sipp = start_caller(
            nursery, server, "uac_refused_404.xml", tmp_path, number="99999", keys={"caller": caller}
        )
        await sipp.wait_ok()
    assert 'ivr_calls_rejected_total{reason="unknown_number",tenant=""}' in await server.get("/metrics")
    assert server.db("SELECT 1 FROM calls WHERE caller = ?", caller) == []


async def test_a_cancel_while_ringing_gets_487_and_no_call_record(server: Server, tmp_path: Path) -> None:
    # Decision: a call never answered has no call record (no flow ran); it is counted as
    # ivr_calls_total{how="cancelled"} and listed in /calls/recent.
    async with trio.open_nursery() as nursery:
        sipp = start_caller(nursery, server, "uac_cancel.xml", tmp_path)  # From 13800138000
        await sipp.wait_ok()
    call = await server.recent_call("13800138000")
    assert call["how"] == "cancelled"
    assert server.db("SELECT 1 FROM calls WHERE caller = ?", "13800138000") == []
    assert 'ivr_calls_total{how="cancelled",tenant="brokerage"}' in await server.get("/metrics")


async def test_a_key_by_sip_info_chooses_english(server: Server, tmp_path: Path) -> None:
    caller = "13900000005"
    keys = {"caller": caller, "digit": "2", "wait": "1500", "hold": "2500"}
    async with trio.open_nursery() as nursery:
        sipp = start_caller(nursery, server, "uac_info_key.xml", tmp_path, keys=keys)
        await sipp.wait_ok()
    call = await server.recent_call(caller)
    trace = await server.get(f"/calls/{call['id']}/trace")
    steps = _steps(trace)
    assert ("node_left", "choose_language", "2") in steps
    assert ("node_entered", "to_english", None) in steps
    later = [e for e in trace["events"] if e["kind"] == "prompt" and e["node"] != "choose_language"]
    assert later and all(e["detail"]["language"] == "en" for e in later)


async def test_garbage_at_the_sip_port_neither_stops_nor_slows_the_server(
    server: Server, tmp_path: Path
) -> None:
    rng = random.Random(7)
    malformed = [
        b"INVITE sip:95500@127.0.0.1 SIP/2.0\r\n\r\n",
        b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n",
        b"OPTIONS sip:95500@127.0.0.1 SIP/2.0\r\nContent-Length: 99999999\r\n\r\nx",
        b"BYE sip:x SIP/2.0\r\nCall-ID: \x00\xff\r\nCSeq: -1 BYE\r\n\r\n",
        b"INVITE " + b"A" * 8000 + b" SIP/2.0\r\n\r\n",
        "INVITE sip:95500@127.0.0.1 SIP/2.0\r\nFrom: 测试\r\nTo: <>\r\n\r\n".encode(),
    ]
    start = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(3000):
            payload = malformed[i % len(malformed)] if i % 3 == 0 else os.urandom(rng.randrange(1, 1400))
            sock.sendto(payload, ("127.0.0.1", server.sip_port))
    sent_in = time.monotonic() - start

    before = time.monotonic()
    health = await server.get("/health")
    assert health["status"] == "ok" and time.monotonic() - before < 1.0, sent_in

    peer = await open_rtp_peer()
    caller = "13900000008"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.receive_forever)
        keys = {"caller": caller, "rtp_port": str(peer.port), "hold": "2000"}
        sipp = start_caller(nursery, server, "uac_call.xml", tmp_path, keys=keys)
        await sipp.wait_ok()
        nursery.cancel_scope.cancel()
    assert peer.voiced() >= 40
    assert (await server.recent_call(caller))["how"] == "caller_hangup"
    assert server.process.poll() is None


async def test_the_sdp_of_a_server_on_127_0_0_1_offers_127_0_0_1(server: Server, tmp_path: Path) -> None:
    # The machine has another interface (pjsua2's default pick); --host decides, not it.
    async with trio.open_nursery() as nursery:
        keys = {"caller": "13900000010", "hold": "500"}
        sipp = start_caller(nursery, server, "uac_call.xml", tmp_path, keys=keys, trace=True)
        await sipp.wait_ok()
    origin, connection = _answer_media_lines(tmp_path)
    assert origin.endswith("IN IP4 127.0.0.1") and connection == "c=IN IP4 127.0.0.1"


def _answer_media_lines(workdir: Path) -> list[str]:
    """The `o=` and `c=` lines of the SDP in the server's 200 OK, from sipp's message log."""
    log = next(workdir.glob("*_messages.log")).read_text()
    answer = log[log.index("SIP/2.0 200 OK") :]
    answer = answer[: answer.index("-" * 20)]
    return [line.strip() for line in answer.splitlines() if line.strip()[:2] in ("o=", "c=")]
