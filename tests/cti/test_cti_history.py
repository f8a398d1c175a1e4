"""The `history` command over the CTI socket: the caller of a call offered to the agent, an
account the agent searches for, one section's next page; refused for a call that is not the
agent's, an account of nobody here, a desk without history; each look-up journaled."""

from __future__ import annotations

from pathlib import Path

import pytest
from cti_support import eventually, running_cti
from history_support import ACCOUNT, ZHANG, seed

from ivr.adapters.history import HistoryReader, HistorySources


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> HistorySources:
    return seed(tmp_path_factory.mktemp("desk-history"))


async def test_the_caller_of_an_offered_call_has_their_history_and_summary(sources: HistorySources) -> None:
    async with running_cti(answer_after=30, history=HistoryReader(sources)) as cti:
        desk = await cti.desktop("8001")
        await desk.ok("state", state="ready")
        cti.call("live-1", caller=ZHANG)
        await desk.event("offered", call_id="live-1")
        answer = await desk.ok("history", call_id="live-1")
        summary = answer["summary"]
        assert summary["customer"]["name"] == "张伟"
        assert [c["call_id"] for c in summary["calls"]] == ["c4", "c3", "c2"]
        assert summary["calls"][1]["path"] == ["main.pick", "orders.ask", "orders.place", "main.bye"]
        assert [o["code"] for o in summary["orders"]] == ["600519", "600519"]
        assert [t["topic"] for t in summary["open_tickets"]] == ["service"]
        assert len(answer["history"]["attempts"]["lines"]) == 2
        await eventually(lambda: any(line.kind == "history" for line in cti.journal.lines))
        looked = await cti.journal.events("8001", "history")
        assert [e.detail["call_id"] for e in looked] == ["live-1"]


async def test_an_account_search_pages_through_one_section(sources: HistorySources) -> None:
    async with running_cti(history=HistoryReader(sources)) as cti:
        desk = await cti.desktop("8001")
        first = await desk.ok("history", account=ACCOUNT)
        assert first["history"]["customer"]["accounts"] == [ACCOUNT]
        calls = first["history"]["calls"]
        assert len(calls["lines"]) == 4 and calls["more"] is None
        older = await desk.ok("history", account=ACCOUNT, section="calls", before="2026-12-01T01:15")
        assert [c["call_id"] for c in older["history"]["calls"]["lines"]] == ["c2", "c1"]
        assert set(older["history"]) == {"customer", "calls"}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"call_id": "someone-elses"}, "not_your_call"),
        ({"account": "39999999"}, "no_such_customer"),
        ({"account": "31000001'; DROP TABLE"}, "bad_field"),
        ({"account": ACCOUNT, "call_id": "x"}, "bad_field"),
        ({"account": ACCOUNT, "section": "passwords"}, "bad_field"),
        ({"account": ACCOUNT, "before": "2026-12-01"}, "bad_field"),
    ],
)
async def test_refused_lookups_say_why(sources: HistorySources, fields: dict[str, object], code: str) -> None:
    async with running_cti(history=HistoryReader(sources)) as cti:
        desk = await cti.desktop("8001")
        answer = await desk.command("history", **fields)
        assert not answer["ok"] and answer["error"]["code"] == code


async def test_a_desk_without_history_says_so(tmp_path: Path) -> None:
    async with running_cti() as cti:
        desk = await cti.desktop("8001")
        answer = await desk.command("history", account=ACCOUNT)
        assert answer["error"]["code"] == "unavailable"
