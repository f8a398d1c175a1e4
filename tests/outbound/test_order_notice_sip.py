"""A phone order that fills calls the customer, end to end: `ivr serve` on a copy of flows/
(the brokerage tenant with its `order_notices` campaign), the matching simulator filling an
order in the server's back office, and a sipp phone (the customer's registered mobile)
whose audio goes to the test's RTP peer. The customer keys the account's last four digits
and the audio received after them carries the fill prompt: its 20 ms loudness envelope,
rendered by the same espeak-ng voice, is found in what the phone heard (no speech
recognition here), and the cancel prompt of the same order is not."""

from __future__ import annotations

import math
import re
import shutil
import sqlite3
import sys
import wave
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from outbound_support import SCENARIOS

sys.path.insert(0, str(Path(__file__).parents[1] / "hosting"))

from hosting_support import ROOT, RtpPeer, Server, open_rtp_peer
from sip_support import ULAW, _background, _run, free_media_port, free_udp_port, sipp_binary

from ivr.adapters.brokerage import operations as op
from ivr.adapters.brokerage.db import using_database
from ivr.adapters.brokerage.matching import match_once
from ivr.adapters.brokerage.testing import trading_time
from ivr.adapters.hosting.auth import token_digest
from ivr.adapters.speech.espeak import EspeakRenderer

pytestmark = [pytest.mark.usefixtures("need_sip"), pytest.mark.sip, pytest.mark.slow]
ACCOUNT = "31000002"
OPERATOR = "notices-operator-token"
FILL = "您的委托{order_no}，{stock}，{qty}股，已成交，成交价{price}元。"
CANCEL = "您的委托{order_no}，{stock}，尚有{qty}股未成交，已撤单。"


def project(tmp_path: Path, gateway: str) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", folder, ignore=shutil.ignore_patterns("*.test.yaml"))
    text = (folder / "service.yaml").read_text()
    assert "gateway: 127.0.0.1:5090" in text and "follow: 3s" in text
    text = text.replace("gateway: 127.0.0.1:5090", f"gateway: {gateway}").replace("follow: 3s", "follow: 1s")
    (folder / "service.yaml").write_text(text)
    return folder


async def operator_get(server: Server, path: str) -> Any:
    async with httpx.AsyncClient(timeout=5.0, headers={"authorization": f"Bearer {OPERATOR}"}) as client:
        response = await client.get(server.url(path))
    response.raise_for_status()
    return response.json()


def fill_an_order(database: Path) -> dict[str, object]:
    """A phone order placed and filled by the matching simulator in the server's back office;
    the notification row it left."""
    with using_database(database):
        limit_up = op.get_quote(code="600000")["limit_up"]
        op.place_order(
            account=ACCOUNT, market="SH", side="buy", code="600000", qty=300, price=str(limit_up),
            idempotency_key="sip-fill-1", now=trading_time(10, 0),
        )  # fmt: skip
        match_once(database, now=trading_time(10, 0))
    with sqlite3.connect(database) as conn:
        conn.row_factory = sqlite3.Row
        [row] = conn.execute("SELECT * FROM order_notifications").fetchall()
    return dict(row)


def envelope(samples: list[int]) -> list[float]:
    """Loudness per 20 ms frame (log RMS)."""
    frames = [samples[i : i + 160] for i in range(0, len(samples) - 159, 160)]
    return [math.log(1.0 + math.sqrt(sum(x * x for x in f) / len(f))) for f in frames]


def best_match(needle: list[float], haystack: list[float]) -> float:
    """The highest normalized correlation of `needle` against any stretch of `haystack`."""
    n = len(needle)
    mean = sum(needle) / n
    a = [x - mean for x in needle]
    norm_a = math.sqrt(sum(x * x for x in a))
    best = -1.0
    for lag in range(0, len(haystack) - n + 1):
        window = haystack[lag : lag + n]
        m = sum(window) / n
        b = [x - m for x in window]
        norm_b = math.sqrt(sum(x * x for x in b))
        if norm_a and norm_b:
            best = max(best, sum(x * y for x, y in zip(a, b, strict=True)) / (norm_a * norm_b))
    return best


async def rendered(renderer: EspeakRenderer, text: str) -> list[float]:
    prompt = await renderer.render(text, "zh")
    with wave.open(str(prompt.path), "rb") as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        return envelope(list(array("h", w.readframes(w.getnframes()))))


async def until(condition: Callable[[], bool], timeout: float) -> None:
    with trio.fail_after(timeout):
        for _ in range(1_000_000):
            if condition():
                return
            await trio.sleep(0.2)


def heard_after(peer: RtpPeer, since: float) -> list[float]:
    samples = [ULAW[b] for at, pt, payload in peer.packets if pt == 0 and at >= since for b in payload]
    return envelope(samples)


async def test_a_filled_phone_order_rings_the_customer_who_hears_the_fill_after_keying_the_digits(
    tmp_path: Path,
) -> None:
    sipp = sipp_binary()
    assert sipp is not None
    peer = await open_rtp_peer()
    phone_port = free_udp_port()
    flows = project(tmp_path, f"127.0.0.1:{phone_port}")
    # the back office's own matching loop is off: during real trading hours it would fill
    # other customers' orders too and ring them at the same phone
    hosting = tmp_path / "hosting.yaml"
    hosting.write_text(
        f"hosting: notices\noperator: {{token_sha256: {token_digest(OPERATOR)}}}\n"
        f'tenants:\n  brokerage: {{folder: {flows}, numbers: ["95500"], '
        "settings: {matching_interval: 0}}\n",
        encoding="utf-8",
    )
    server = Server.start(
        tmp_path / "data", "--hosting", str(hosting), "--agents", "none", tts=tmp_path / "tts"
    )
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer.receive_forever)
            cmd = [sipp, "-sf", str(SCENARIOS / "uas_listener.xml"), "-i", "127.0.0.1", "-p", str(phone_port)]
            cmd += ["-mp", str(free_media_port()), "-m", "1", "-nostdin", "-trace_logs", "-trace_err"]
            cmd += ["-timeout", "90s", "-timeout_error", "-key", "rtp_port", str(peer.port)]
            (tmp_path / "phone").mkdir()
            phone = _background(nursery, _run(cmd, tmp_path / "phone"))
            database = tmp_path / "data" / "tenants" / "brokerage" / "data" / "brokerage.sqlite3"
            await until(database.exists, 60)  # the brokerage module has created its back office
            row = await trio.to_thread.run_sync(fill_an_order, database)
            with trio.fail_after(60):
                await peer.first_packet.wait()  # the customer answered
            answered = trio.current_time()
            await peer.send_tone(0.6, frequency=440.0)  # a short "hello?", then silence: a person
            call_id = f"order_notices-{row['key']}-1"
            # the greeting, then the question: the call's events say when
            await until(lambda: ("prompt", "ask_last4") in [(k, n) for k, n, _ in server.events(call_id)], 60)
            assert peer.voiced(answered) >= 40  # the greeting was heard
            keyed = trio.current_time()
            log = "".join(p.read_text(errors="replace") for p in (tmp_path / "phone").glob("*_logs.log"))
            events = int(re.findall(r"EVENTS (\d+)", log)[0])  # the payload type the IVR offered
            await peer.send_dtmf(str(row["account_last4"]), pt=events)
            await phone.wait_ok(timeout=90)
            nursery.cancel_scope.cancel()
        with trio.fail_after(30):  # the BYE is out; the attempt's outcome is stored just after
            for _ in range(1_000_000):
                progress = await operator_get(server, "/campaigns/runs/order_notices")
                if progress["attempt_outcomes"]:
                    break
                await trio.sleep(0.2)
    finally:
        server.stop()
    invites = "".join(p.read_text(errors="replace") for p in (tmp_path / "phone").glob("*_logs.log"))
    assert re.findall(r"INVITE (\S+) (\S+)", invites) == [(str(row["phone"]), call_id)]  # one call, once
    assert progress["dispositions"] == {"told": 1} and progress["attempts"] == 1
    renderer = EspeakRenderer(tmp_path / "tts-test")
    fill = await rendered(renderer, FILL.format(**row))
    cancel = await rendered(renderer, CANCEL.format(**row))
    heard = heard_after(peer, keyed)
    assert best_match(fill, heard) > 0.9, "the fill prompt is not in the audio the phone received"
    assert best_match(cancel, heard) < best_match(fill, heard) - 0.1
