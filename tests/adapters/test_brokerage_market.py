"""Market data and account enquiries of the demo back office."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ivr.adapters.brokerage import operations as op
from ivr.adapters.brokerage.db import ENV_VAR, BrokerageError
from ivr.adapters.brokerage.seed import LISTINGS
from ivr.adapters.brokerage.testing import fresh_database
from ivr.adapters.messaging.documents import parse_document


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = fresh_database(tmp_path / "brokerage.sqlite3")
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


def test_quote_has_name_prices_and_change(db: Path) -> None:
    quote = op.get_quote(code="600519")
    assert quote["found"] and quote["name"] == "贵州茅台" and not quote["suspended"]
    assert quote["change"] == quote["last"] - quote["prev_close"]
    assert quote["low"] <= quote["last"] <= quote["high"]
    assert quote["limit_up"] == (quote["prev_close"] * Decimal("1.1")).quantize(Decimal("0.01"))
    assert isinstance(quote["last"], Decimal)


def test_unknown_code_is_not_found(db: Path) -> None:
    assert op.get_quote(code="999999")["found"] is False


def test_seed_is_deterministic_and_has_about_thirty_listings(tmp_path: Path, db: Path) -> None:
    assert len(LISTINGS) >= 30
    first = op.get_quote(code="300750")
    other = fresh_database(tmp_path / "other.sqlite3")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_VAR, str(other))
        assert op.get_quote(code="300750") == first


def test_suspended_st_stock(db: Path) -> None:
    quote = op.get_quote(code="002512")
    assert quote["suspended"] and quote["st"]


def test_period_high_low_covers_the_period(db: Path) -> None:
    week, quarter = op.period_high_low(code="600036", days=5), op.period_high_low(code="600036", days="60")
    assert week["days"] == 5 and quarter["days"] == 60
    assert quarter["high"] >= week["high"] and quarter["low"] <= week["low"]
    assert not op.period_high_low(code="123456", days=5)["found"]


def test_market_summary_and_company_info(db: Path) -> None:
    summary = op.market_summary()
    assert summary["advancers"] + summary["decliners"] + summary["unchanged"] == len(LISTINGS) - 1
    assert summary["sh_index"] > 0 and summary["cyb_name"] == "创业板指"
    info = op.company_info(code="688981")
    assert "科创板" in info["profile_zh"] and "STAR" in info["profile_en"]
    assert not op.company_info(code="000000")["found"]


def test_cash_positions_and_transactions(db: Path) -> None:
    cash = op.cash_balance(account="31000001")
    assert cash["available"] == Decimal("500000.00") and cash["frozen"] == 0
    assert cash["total_assets"] == cash["available"] + cash["market_value"]
    held = op.positions(account="31000002")
    assert held["count"] == 3 and {i["code"] for i in held["items"]} == {"601318", "600892", "688981"}
    moves = op.recent_transactions(account="31000001", n=2)
    assert moves["count"] == 2 and moves["items"][0]["kind_zh"] == "买入"


def test_unknown_account_raises_a_clear_error(db: Path) -> None:
    with pytest.raises(BrokerageError, match="unknown account"):
        op.cash_balance(account="00000000")


def test_statement_is_stored_with_contacts(db: Path) -> None:
    statement = op.prepare_statement(account="31000003")
    assert statement["email"] == "wang.fang@example.com" and statement["has_fax"]
    assert "31000003" in statement["document"]["subtitle"]
    assert op.prepare_statement(account="31000003")["statement_no"] != statement["statement_no"]


def test_the_statement_document_holds_cash_positions_and_transactions_as_tables(db: Path) -> None:
    statement = op.prepare_statement(account="31000002")
    document = parse_document(statement["document"])  # the outbox accepts it as it is
    cash, held, moves = document.sections
    assert cash.table is not None and cash.table.rows[0] == ("可用资金 Available", "20,000.00")
    assert held.table is not None and {row[0] for row in held.table.rows} == {"601318", "600892", "688981"}
    expected = op.recent_transactions(account="31000002", n=20)["items"]
    assert moves.table is not None and [(r[0], r[2], r[6]) for r in moves.table.rows] == [
        (m["date"], m["code"], f"{m['amount']:,.2f}") for m in expected
    ]
    assert document.filename == f"statement-{statement['statement_no']}.pdf"


def test_material_is_a_document_with_the_callers_contacts(db: Path) -> None:
    company = op.prepare_material(topic="company", code="600519", caller="13900139000")
    assert company["found"] and company["email"] == "li.na@example.com" and company["mobile"] == "13900139000"
    assert "贵州茅台" in parse_document(company["document"]).text()
    rules = op.prepare_material(topic="rules", code="", caller="13512345678")
    assert (rules["has_email"], rules["mobile"]) == (False, "13512345678")  # an unknown mobile caller
    assert "T+1" in rules["sms_text"] and len(parse_document(rules["document"]).sections) == 4
    assert not op.prepare_material(topic="company", code="999999", caller="")["found"]
    assert (
        op.prepare_material(topic="rules", code="", caller="02161234567")["has_mobile"] is True
    )  # 王芳's line


def test_complaint_ticket_is_routed_by_topic(db: Path) -> None:
    fees = op.file_complaint(caller="13800138000", account="31000001", recording_id="rec-1", topic="fees")
    other = op.file_complaint(caller="", account="", recording_id="rec-2", topic="")
    assert fees["department"] == "finance" and other["department"] == "compliance"
    assert fees["ticket_no"].isdigit() and fees["ticket_no"] != other["ticket_no"]


def test_a_complaint_ticket_is_rerouted_then_closed_with_a_note_once(db: Path) -> None:
    ticket = op.file_complaint(caller="13800138000", account="31000001", recording_id="rec-1", topic="fees")
    number = ticket["ticket_no"]
    with pytest.raises(BrokerageError, match="unknown department 'marketing'"):
        op.reroute_complaint(number, "marketing", by="8009")
    moved = op.reroute_complaint(number, "it", by="8009")
    assert (moved["department"], moved["status"], moved["updated_by"]) == ("it", "open", "8009")
    with pytest.raises(BrokerageError, match="needs a note"):
        op.close_complaint(number, "  ", by="8009")
    closed = op.close_complaint(number, "Explained the fee schedule.", by="8009")
    assert (closed["status"], closed["note"], closed["department"]) == (
        "closed",
        "Explained the fee schedule.",
        "it",
    )
    with pytest.raises(BrokerageError, match=f"ticket {number} is closed"):
        op.close_complaint(number, "again", by="8009")
    assert [t["ticket_no"] for t in op.complaint_tickets(status="closed")["tickets"]] == [number]
    assert number not in [t["ticket_no"] for t in op.complaint_tickets(status="open")["tickets"]]
    assert {d["id"] for d in op.complaint_departments()["departments"]} >= {"finance", "it", "compliance"}


def test_closing_a_ticket_with_a_call_back_queues_exactly_one_call_back_in_the_same_write(db: Path) -> None:
    from ivr.adapters.brokerage.db import connect

    quiet = op.file_complaint(caller="13800138000", account="31000001", recording_id="rec-1", topic="fees")
    op.close_complaint(quiet["ticket_no"], "Explained the fee schedule.", by="8009")
    ticket = op.file_complaint(caller="13800138000", account="31000001", recording_id="rec-2", topic="fees")
    closed = op.close_complaint(ticket["ticket_no"], "已退还多收的佣金" * 80, by="8009", call_back=True)
    assert closed["call_back"] is True and closed["status"] == "closed"
    anonymous = op.file_complaint(caller="", recording_id="rec-3", topic="service")
    with pytest.raises(BrokerageError, match="no caller number to call back"):
        op.close_complaint(anonymous["ticket_no"], "Fixed.", by="8009", call_back=True)
    assert (
        op.complaint_tickets(status="open")["tickets"][0]["ticket_no"] == anonymous["ticket_no"]
    )  # not closed
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT key, ticket_no, phone, topic_zh, note, sms_text FROM complaint_callbacks"
        ).fetchall()
    [(key, number, phone, topic, note, sms)] = [tuple(row) for row in rows]
    assert (key, number, phone, topic) == (
        f"ticket{ticket['ticket_no']}",
        ticket["ticket_no"],
        "13800138000",
        "费用",
    )
    assert len(note) == 300 and note.endswith("…")  # read out: the first 300 characters
    assert (
        sms.startswith(f"【95500证券】您的投诉工单{ticket['ticket_no']}已处理完毕：已退还")
        and len(sms) == 500
    )
