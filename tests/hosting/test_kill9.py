"""kill -9 under load loses no record and doubles nothing.

Callers place phone orders, move money from the bank and have statements e-mailed (the
brokerage flows, every calendar open), all talking as they key, while `ivr serve` records
every call. The server is killed with SIGKILL in the middle of it, then started again on the
same data directory. Then:

- every call that got a 200 has a call record, closed: those cut by the kill as
  `interrupted` (with the `call_interrupted` event the restart wrote);
- the back office is consistent: each account's cash moved exactly by its transactions,
  frozen cash equals what open orders hold, each transfer moved the bank balance once and
  has one transaction, no order or transfer exists twice or without the call that made it;
- the outbox holds each message once, and the restart sent (queued) nothing again;
- every recording the records point at is a complete, playable WAV file;
- the restarted server answers a clean call.

About 40 s.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import wave
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import trio
import yaml
from hosting_support import ROOT, Server, free_udp_port, open_rtp_peer, start_caller
from sipp_keys import ANSWERED, keyed_caller, last_row, write_voice

pytestmark = [pytest.mark.slow, pytest.mark.alone]
CALLER, PIN, FUND_PIN = "13900139000", "314159", "271828"  # Li Na, account 31000002 (demo data)
ALWAYS_OPEN = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
ORDER = [(1000, "131"), (1500, f"{PIN}#"), (1500, "11600036"), (1500, "100#"), (1500, "43*56#"),
         (4000, "1"), (3000, "")]  # fmt: skip
TRANSFER = [(1000, "1511"), (1500, f"{PIN}#"), (1500, "1"), (1500, f"{FUND_PIN}#"), (1500, "1000#"),
            (3000, "1"), (6000, "")]  # fmt: skip
STATEMENT = [(1000, "121"), (1500, f"{PIN}#"), (2500, "41"), (5000, "")]
KILL_AFTER = 19.0  # seconds into the load
SIPP_LIMIT = 24  # seconds each sipp runs before it gives up on the dead server's calls


def open_market_flows(folder: Path) -> Path:
    """A copy of flows/ whose calendars are open at every hour (the result must not depend
    on the time of day)."""
    shutil.copytree(ROOT / "flows", folder)
    service = yaml.safe_load((folder / "service.yaml").read_text(encoding="utf-8"))
    for calendar in service["calendars"].values():
        calendar["hours"], calendar["holidays"] = ALWAYS_OPEN, []
    (folder / "service.yaml").write_text(yaml.safe_dump(service, allow_unicode=True), encoding="utf-8")
    return folder


def back_office(path: Path) -> dict[str, Any]:
    """The numbers the invariants compare: cash, bank balances, what exists already."""
    with sqlite3.connect(path) as conn:
        return {
            "cash": {a: (av, fr) for a, av, fr in conn.execute("SELECT * FROM cash")},
            "bank": dict(conn.execute("SELECT account_no, sum(bank_balance_fen) FROM bank_links GROUP BY 1")),
            "last_tx": conn.execute("SELECT coalesce(max(id), 0) FROM transactions").fetchone()[0],
            "transfers": {n for (n,) in conn.execute("SELECT transfer_no FROM transfers")},
        }


async def run_callers(
    name: str, steps: list[tuple[int, str]], server: Server, work: Path, calls: int
) -> None:
    """`calls` keyed callers, two a second, each its own sipp run directory."""
    folder = work / name
    folder.mkdir()
    (folder / "caller.xml").write_text(keyed_caller(steps))
    write_voice(folder / "voice.ulaw")
    cmd = ["sipp", "-sf", "caller.xml", "-i", "127.0.0.1", "-p", str(free_udp_port())]
    cmd += ["-mp", str(free_udp_port()), "-s", "95500", "-key", "caller", CALLER, "-r", "2"]
    cmd += ["-l", str(calls), "-m", str(calls), "-nostdin", "-timeout", f"{SIPP_LIMIT}s"]
    cmd += ["-max_retrans", "2", "-recv_timeout", "5000"]  # give up on a dead server soon
    cmd += ["-trace_counts", "-fd", "1", f"127.0.0.1:{server.sip_port}"]
    env = {**os.environ, "TERM": "dumb"}
    await trio.run_process(
        cmd, cwd=str(folder), env=env, check=False, capture_stdout=True, capture_stderr=True
    )


def answered_calls(work: Path) -> int:
    return sum(int(last_row(path)[ANSWERED]) for path in work.glob("*/*_counts.csv"))


async def test_kill_9_under_load_loses_no_record_and_doubles_nothing(
    tmp_path: Path, tts_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_BROKERAGE_ALWAYS_OPEN", "1")  # the back office's own trading hours
    flows = open_market_flows(tmp_path / "flows")
    data, work = tmp_path / "data", tmp_path / "sipp"
    work.mkdir()
    server = Server.start(data, "--record-calls", flows=flows, tts=tts_cache)
    before = back_office(data / "brokerage.sqlite3")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_callers, "orders", ORDER, server, work, 14)
        nursery.start_soon(run_callers, "transfers", TRANSFER, server, work, 10)
        nursery.start_soon(run_callers, "statements", STATEMENT, server, work, 10)
        await trio.sleep(KILL_AFTER)
        await server.wait_health("calls_active", 5)  # the kill hits calls in progress
        server.process.send_signal(signal.SIGKILL)
        await trio.to_thread.run_sync(server.process.wait)
        outbox_at_kill = outbox(data)
    answered = answered_calls(work)

    again = Server.start(data, "--record-calls", flows=flows, tts=tts_cache)
    try:
        await a_clean_call(again, tmp_path / "after")
        calls = again.db("SELECT call_id, how, ended_at FROM calls WHERE caller = ?", CALLER)
        interrupted = {c for c, how, _ in calls if how == "interrupted"}
        recovered = {c for (c,) in again.db("SELECT call_id FROM events WHERE kind = 'call_interrupted'")}
        recordings = again.db("SELECT call_id, path FROM recordings")
        events = again.db("SELECT call_id, detail FROM events WHERE kind = 'message'")
        outbox_after = outbox(data)
    finally:
        assert again.stop() == 0, again.output()

    # Every call that got a 200 has a record, closed; those the kill cut are "interrupted".
    assert len(calls) == answered > 0, (len(calls), answered)
    assert all(ended for _, _, ended in calls)
    assert interrupted and interrupted == recovered
    check_back_office(data / "brokerage.sqlite3", before, {c for c, _, _ in calls})
    # The outbox: each message once, nothing added by the restart, every queued event's row there.
    assert outbox_after == outbox_at_kill
    assert max(Counter((to, text) for _, to, text in outbox_after).values(), default=1) == 1
    sent = [json.loads(detail) for _, detail in events]
    assert {e["delivery"] for e in sent if e["outcome"] == "queued"} <= {row[0] for row in outbox_after}
    # Recordings the records point at are whole WAV files.
    assert recordings
    for _, path in recordings:
        with wave.open(path, "rb") as w:
            assert w.getframerate() == 8000 and w.getnframes() > 8000  # at least a second


def outbox(data: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(data / "outbox.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return sorted(conn.execute("SELECT delivery_id, recipient, coalesce(message, '') FROM outbox"))


def check_back_office(path: Path, before: dict[str, Any], calls: set[str]) -> None:
    """Orders and transfers whole and once, and the money they moved accounted for."""
    after = back_office(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        moved = dict(
            conn.execute(
                "SELECT account_no, sum(amount_fen) FROM transactions WHERE id > ? GROUP BY 1",
                (before["last_tx"],),
            )
        )
        held = dict(
            conn.execute(
                "SELECT account_no, sum(frozen_fen) FROM orders"
                " WHERE status IN ('new', 'partially_filled') GROUP BY 1"
            )
        )
        transfers = conn.execute(
            "SELECT transfer_no, account_no, direction, amount_fen FROM transfers WHERE status = 'done'"
        ).fetchall()
        per_transfer = {
            number: conn.execute(
                "SELECT count(*), sum(abs(amount_fen)) FROM transactions WHERE ref = ?", (number,)
            ).fetchone()
            for number, *_ in transfers
        }
        keys = [
            k
            for (k,) in conn.execute(
                "SELECT idempotency_key FROM orders UNION ALL SELECT idempotency_key FROM transfers"
            )
        ]
    for account, (available, frozen) in after["cash"].items():
        was = sum(before["cash"][account])
        assert available + frozen - was == moved.get(account, 0), account  # moved only by transactions
        assert frozen == held.get(account, 0), account  # frozen cash is what open orders hold
    for number, _, _, amount in transfers:
        assert per_transfer[number] == (1, amount), number  # one transaction per transfer
    new = [t for t in transfers if t[0] not in before["transfers"]]
    for account, balance in after["bank"].items():
        signed = sum(-a if d == "bank_to_broker" else a for _, acc, d, a in new if acc == account)
        assert balance - before["bank"][account] == signed, account  # the bank moved once per transfer
    made_here = [k for k in keys if "-order-" in k or "-transfer-" in k]
    assert any("-order-" in k for k in made_here) and new, "nothing was placed before the kill"
    assert len(made_here) == len(set(made_here))
    assert {k.rsplit("-", 2)[0] for k in made_here} <= calls  # each from a recorded call


async def a_clean_call(server: Server, workdir: Path) -> None:
    peer = await open_rtp_peer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.receive_forever)
        keys = {"caller": "13900000777", "rtp_port": str(peer.port), "hold": "2000"}
        await start_caller(nursery, server, "uac_call.xml", workdir, keys=keys).wait_ok()
        nursery.cancel_scope.cancel()
    assert peer.voiced() >= 40
