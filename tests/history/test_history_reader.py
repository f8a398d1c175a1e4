"""The customer's history read from real SQLite stores (`history_support.seed`): calls with
their paths, orders and transfers with the call they were made in, tickets, messages with
their delivery state, outbound attempts; newest first, in pages; one tenant's only; no
secret; every query through an index."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from history_support import ACCOUNT, T0, TENANT, ZHANG, seed
from query_plans import table_scans

from ivr.adapters.brokerage import db
from ivr.adapters.brokerage.funds import transfer
from ivr.adapters.history import SECTIONS, History, HistoryReader, HistorySources, Section, Who
from ivr.adapters.history.model import CallLine


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> HistorySources:
    return seed(tmp_path_factory.mktemp("history"))


def ids(reader: HistoryReader, who: Who, section: str, key: str, **options: object) -> list[object]:
    history = reader.read(who, **options)  # type: ignore[arg-type]
    return [getattr(line, key) for line in history.page(section).lines]  # type: ignore[arg-type]


def lines(history: History, section: Section) -> list[dict[str, Any]]:
    return [asdict(line) for line in history.page(section).lines]


def test_an_account_finds_the_customer_with_numbers_and_addresses(sources: HistorySources) -> None:
    customer = HistoryReader(sources).customer(Who(account=ACCOUNT))
    assert customer.known and customer.name == "张伟" and customer.vip_tier == "gold"
    assert customer.accounts == (ACCOUNT,) and customer.numbers == (ZHANG,)
    assert customer.addresses == (ZHANG, "zhang.wei@example.com", "01065550101")


def test_calls_come_newest_first_with_their_paths_and_this_tenants_only(sources: HistorySources) -> None:
    history = HistoryReader(sources).read(Who(account=ACCOUNT))
    calls = [line for line in history.page("calls").lines if isinstance(line, CallLine)]
    assert [c.call_id for c in calls] == ["c4", "c3", "c2", "c1"]  # x1 is tenant other's
    assert calls[1].path == ("main.pick", "orders.ask", "orders.place", "main.bye")
    assert calls[2].how == "hangup" and calls[2].path == ("main.pick", "main.agent")
    assert history.page("calls").more is None


def test_the_caller_number_finds_the_same_customer(sources: HistorySources) -> None:
    reader = HistoryReader(sources)
    assert ids(reader, Who(caller=ZHANG), "calls", "call_id") == ["c4", "c3", "c2", "c1"]


def test_an_unknown_number_gets_only_its_own_calls(sources: HistorySources) -> None:
    history = HistoryReader(sources).read(Who(caller="13333333333"))
    assert not history.customer.known
    assert [line.call_id for line in history.page("calls").lines] == ["s1"]  # type: ignore[union-attr]
    assert history.page("orders").lines == () and history.page("tickets").lines == ()


def test_an_account_of_no_one_here_has_no_history(sources: HistorySources) -> None:
    history = HistoryReader(sources).read(Who(account="39999999"))
    assert not history.customer.known and all(not history.page(s).lines for s in SECTIONS)


def test_pages_of_two_calls_follow_the_cursor(sources: HistorySources) -> None:
    reader = HistoryReader(sources)
    first = reader.read_sections(Who(account=ACCOUNT), ["calls"], limit=2)
    assert [line.call_id for line in first.page("calls").lines] == ["c4", "c3"]  # type: ignore[union-attr]
    assert first.page("calls").more is not None
    second = reader.read_sections(Who(account=ACCOUNT), ["calls"], before=first.page("calls").more, limit=2)
    assert [line.call_id for line in second.page("calls").lines] == ["c2", "c1"]  # type: ignore[union-attr]
    assert second.page("calls").more is None


def test_orders_and_transfers_name_the_call_they_were_made_in(sources: HistorySources) -> None:
    history = HistoryReader(sources).read(Who(account=ACCOUNT))
    orders = lines(history, "orders")
    assert [(o["side"], o["code"], o["qty"], o["call_id"], o["by"]) for o in orders] == [
        ("sell", "600519", 100, "c4", "agent"),
        ("buy", "600519", 100, "c3", "ivr"),
    ]  # Li Na's order is not his
    assert orders[1]["price"] == "1400.00"
    transfers = [(t["direction"], t["amount"], t["call_id"]) for t in lines(history, "transfers")]
    assert transfers == [("bank_to_broker", "1000.00", "c3")]


def test_tickets_messages_and_attempts_are_his_with_their_states(sources: HistorySources) -> None:
    history = HistoryReader(sources).read(Who(account=ACCOUNT))
    tickets = [(t["topic"], t["status"]) for t in lines(history, "tickets")]
    assert tickets == [("service", "open"), ("fees", "closed")]
    messages = [(m["delivery_id"], m["channel"], m["status"]) for m in lines(history, "messages")]
    assert messages == [("m2", "email", "queued"), ("m1", "sms", "queued")]
    attempts = [(a["campaign"], a["outcome"], a["disposition"]) for a in lines(history, "attempts")]
    assert attempts == [("margin_call", "answered", "confirmed"), ("margin_call", "no_answer", None)]


def test_the_screen_pop_summary_has_the_last_three_calls_the_last_orders_and_open_tickets(
    sources: HistorySources,
) -> None:
    summary = HistoryReader(sources).read(Who(caller=ZHANG)).summary()
    assert [c["call_id"] for c in summary["calls"]] == ["c4", "c3", "c2"]
    assert [o["call_id"] for o in summary["orders"]] == ["c4", "c3"]
    assert [t["topic"] for t in summary["open_tickets"]] == ["service"]


def test_no_pin_or_hash_or_other_tenants_path_is_in_the_history(sources: HistorySources) -> None:
    text = json.dumps(HistoryReader(sources).read(Who(account=ACCOUNT)).as_json(), ensure_ascii=False)
    for secret in ("135790", "246813", "scrypt", "pin", "secret_of_other_tenant", "text"):
        assert secret not in text


def test_a_missing_store_is_an_empty_section(tmp_path: Path, sources: HistorySources) -> None:
    partial = HistorySources(TENANT, sources.records, brokerage=None, outbox=tmp_path / "none.sqlite3")
    history = HistoryReader(partial).read(Who(caller=ZHANG))
    assert not history.customer.known and len(history.page("calls").lines) == 4
    assert history.page("messages").lines == () and history.page("orders").lines == ()


def test_every_query_of_a_history_searches_an_index(sources: HistorySources) -> None:
    reader = HistoryReader(sources)
    statements: list[tuple[str, str]] = []
    reader.trace = lambda source, statement: statements.append((source, statement))
    reader.read(Who(account=ACCOUNT))
    reader.read_sections(Who(caller=ZHANG), SECTIONS, before="2026-12-01T01:25", limit=1)
    assert {source for source, _ in statements} == {"records", "brokerage", "outbox", "campaigns"}
    for source in ("records", "brokerage", "outbox", "campaigns"):
        path = getattr(sources, source)
        conn = sqlite3.connect(path)
        assert table_scans(conn, [s for where, s in statements if where == source]) == []
        conn.close()


def test_the_docs_example_reads_a_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "reports.md").read_text(encoding="utf-8")
    section = doc[doc.index("## The customer's history") :]
    example = section[section.index("```python\n") + 10 : section.index("```\n", section.index("```python"))]
    (tmp_path / "var").mkdir()
    seed(tmp_path / "var")
    monkeypatch.chdir(tmp_path)
    names: dict[str, Any] = {}
    exec(compile(example, "docs/reports.md", "exec"), names)  # the doc's own code, as a reader runs it
    assert names["history"].customer.name == "张伟"
    assert [line.call_id for line in names["older"].page("calls").lines] == ["c2", "c1"]
    assert [c["call_id"] for c in names["history"].summary()["calls"]] == ["c4", "c3", "c2"]


def test_a_back_office_without_its_tables_gives_an_unknown_customer(
    tmp_path: Path, sources: HistorySources
) -> None:
    empty = tmp_path / "brokerage.sqlite3"
    sqlite3.connect(empty).close()
    history = HistoryReader(HistorySources(TENANT, sources.records, brokerage=empty)).read(
        Who(account=ACCOUNT)
    )
    assert not history.customer.known and history.page("orders").lines == ()


def test_a_call_from_a_number_not_on_file_joins_through_the_transfer_made_in_it(tmp_path: Path) -> None:
    own = seed(tmp_path)
    with sqlite3.connect(own.records) as conn:  # Zhang Wei calls from his office, 30 min before c1
        conn.execute(
            "INSERT INTO calls (call_id, flow, caller, dialed, started_at, tenant)"
            " VALUES ('w1', 'main', '01087654321', '95555', '2026-12-01T00:30:00.000000+00:00', ?)",
            (TENANT,),
        )
    assert own.brokerage is not None
    with db.using_database(own.brokerage):
        transfer(ACCOUNT, "broker_to_bank", "500.00", "w1-transfer-1", now=T0 - timedelta(minutes=29))
    reader = HistoryReader(own)
    statements: list[str] = []
    reader.trace = lambda source, statement: statements.append(statement) if source == "records" else None
    assert ids(reader, Who(account=ACCOUNT), "calls", "call_id") == ["c4", "c3", "c2", "c1", "w1"]
    assert any("call_id = 'w1'" in s for s in statements)
    with sqlite3.connect(own.records) as conn:
        assert table_scans(conn, statements) == []
    assert ids(reader, Who(caller="01087654321"), "calls", "call_id") == ["w1"]  # not on file: its own
    older = reader.read_sections(Who(account=ACCOUNT), ["calls"], before="2026-12-01T01:05", limit=1)
    assert [line.call_id for line in older.page("calls").lines] == ["c1"] and older.page("calls").more  # type: ignore[union-attr]
