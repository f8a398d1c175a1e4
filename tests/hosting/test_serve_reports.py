"""Reports over real SIP traffic: sipp callers through `ivr serve` and the bank's flows, then
`ivr report` and `ivr draw --stats` on the server's own records database (issue #13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio
from hosting_support import Server, start_caller

from ivr.cli import main

ROOT = Path(__file__).parents[2]


async def test_a_report_and_a_drawing_count_what_sipp_callers_did(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two callers: one hangs up in the welcome menu, one keys 2 (English) and hangs up later.
    async with trio.open_nursery() as nursery:
        first = start_caller(
            nursery, server, "uac_call.xml", tmp_path / "a", keys={"caller": "13900000021", "hold": "1000"}
        )
        await first.wait_ok()
        keys = {"caller": "13900000022", "digit": "2", "wait": "1500", "hold": "2500"}
        second = start_caller(nursery, server, "uac_info_key.xml", tmp_path / "b", keys=keys)
        await second.wait_ok()
    await server.recent_call("13900000021")
    await server.recent_call("13900000022")
    database = server.data_dir / "calls.sqlite3"
    [(day,)] = server.db("SELECT DISTINCT substr(started_at, 1, 10) FROM calls")

    args = [
        "report",
        "--db",
        str(database),
        "--from",
        day,
        "--to",
        day,
        "--interval",
        "day",
        "--output",
        "json",
    ]
    assert main([*args, "--by", "tenant"]) == 0
    [tenant] = json.loads(capsys.readouterr().out)["rows"]
    assert (tenant["tenant"], tenant["calls"], tenant["contained"], tenant["hangups_in_ivr"]) == (
        "brokerage",
        2,
        0,
        2,
    )

    assert main([*args, "--by", "node", "--flow", "main"]) == 0
    nodes = {row["node"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    menu = nodes["main.choose_language"]
    assert (menu["visits"], menu["exits"], menu["hangups"]) == (2, {"2": 1}, 1)
    assert nodes["main.to_english"]["visits"] == 1
    assert sum(row["hangups"] for row in nodes.values()) <= 2  # the second may hang up in a subflow

    out = tmp_path / "main.dot"
    draw = ["draw", str(ROOT / "flows" / "main.yaml"), "--stats", str(database), "--from", day, "--to", day]
    assert main([*draw, "-o", str(out)]) == 0
    dot = out.read_text(encoding="utf-8")
    assert ": 2 calls," in dot and "2 visits (100% of calls)" in dot and "1 hung up (50%)" in dot
