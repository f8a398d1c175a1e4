"""Bank-brokerage transfers (window, caps, idempotency) and loss reports by ID number and
account (check character, matching holder, the caller-number lock, duplicates)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ivr.adapters.brokerage import operations as op
from ivr.adapters.brokerage import rules
from ivr.adapters.brokerage.db import ENV_VAR, BrokerageError, connect
from ivr.adapters.brokerage.seed import ID_NUMBER_FIXES
from ivr.adapters.brokerage.testing import fresh_database, trading_time

NOW = trading_time(10, 0)
_keys = iter(range(1_000_000))


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = fresh_database(tmp_path / "brokerage.sqlite3")
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


def move(account: str, direction: str, amount: str, **kw: Any) -> dict[str, Any]:
    return op.transfer(
        account=account, direction=direction, amount=amount,
        idempotency_key=kw.pop("key", f"t-{next(_keys)}"), now=kw.pop("now", NOW),
    )  # fmt: skip


def test_bank_to_brokerage_and_back(db: Path) -> None:
    answer = move("31000001", "bank_to_broker", "1000.50")
    assert answer["ok"] and answer["available"] == Decimal("501000.50") and answer["transfer_no"].isdigit()
    assert move("31000001", "broker_to_bank", "1000.50")["available"] == Decimal("500000.00")
    assert op.recent_transactions(account="31000001", n=1)["items"][0]["kind"] == "broker_to_bank"


@pytest.mark.parametrize("when", [trading_time(8, 59), trading_time(16, 0)])
def test_transfers_only_in_the_window(db: Path, when: Any) -> None:
    assert move("31000001", "bank_to_broker", "100", now=when)["reason"] == "transfer_closed"


def test_per_transfer_and_daily_caps(db: Path) -> None:
    assert move("31000003", "bank_to_broker", "500000.01")["reason"] == "over_single_cap"
    assert move("31000003", "bank_to_broker", "500000")["ok"]
    assert move("31000003", "broker_to_bank", "500000")["ok"]
    assert move("31000003", "bank_to_broker", "0.01")["reason"] == "over_daily_cap"


def test_balances_are_checked(db: Path) -> None:
    assert move("31000002", "bank_to_broker", "40000")["reason"] == "insufficient_bank_balance"
    assert move("31000002", "broker_to_bank", "20000.01")["reason"] == "insufficient_cash"
    assert move("31000002", "broker_to_bank", "0")["reason"] == "bad_amount"
    assert move("31000002", "broker_to_bank", "1.005")["reason"] == "bad_amount"


def test_same_key_moves_money_once(db: Path) -> None:
    first = move("31000001", "bank_to_broker", "300", key="k")
    again = move("31000001", "bank_to_broker", "300", key="k")
    assert again["transfer_no"] == first["transfer_no"]
    assert op.cash_balance(account="31000001")["available"] == Decimal("500300.00")


def test_bad_arguments_raise(db: Path) -> None:
    with pytest.raises(BrokerageError):
        move("31000001", "sideways", "1")
    with pytest.raises(BrokerageError, match="unknown account"):
        move("00000000", "bank_to_broker", "1")


ZHANG_ID = "110101198003071239"  # 张伟, account 31000001
WANG_ID = "440305197702183457"  # 王芳, accounts 31000003 (primary) and 31000004


def test_a_card_loss_by_id_number_and_account_stops_transfers(db: Path) -> None:
    report = op.report_card_loss(account="31000001", id_number=ZHANG_ID, kind="card", caller="13800138000")
    assert report["ok"] and report["report_no"].isdigit() and not report["duplicate"]
    assert report["account"] == "31000001"
    assert move("31000001", "bank_to_broker", "1")["reason"] == "card_reported_lost"


def test_the_id_number_alone_reports_the_primary_account(db: Path) -> None:
    assert op.report_card_loss(id_number=WANG_ID, kind="passbook")["account"] == "31000003"
    assert op.report_card_loss(id_number=WANG_ID, account="31000004")["account"] == "31000004"


def test_an_x_keyed_as_a_star_and_lower_case_are_the_same_id() -> None:
    assert (
        rules.id_number("11010519491231002*") == rules.id_number("11010519491231002x") == "11010519491231002X"
    )


@pytest.mark.parametrize(
    "keyed", ["110101198003071234", "11010119800307123", "1101011980030712390", "A10101198003071239"]
)
def test_an_id_number_with_a_wrong_check_character_or_length_is_refused(db: Path, keyed: str) -> None:
    answer = op.report_card_loss(account="31000001", id_number=keyed, caller="13800138000")
    assert answer["reason"] == "bad_id_number" and answer["reason_zh"].startswith("身份证号码有误")
    assert move("31000001", "bank_to_broker", "1")["ok"]  # nothing was reported


def test_another_customers_id_number_does_not_report_an_account(db: Path) -> None:
    answer = op.report_card_loss(account="31000002", id_number=ZHANG_ID, caller="13900139000")
    assert answer["reason"] == "id_mismatch" and answer["attempts_left"] == 2
    assert move("31000002", "bank_to_broker", "1")["ok"]
    unknown = op.report_card_loss(account="00000000", id_number=ZHANG_ID, caller="13900139000")
    assert unknown["reason"] == "id_mismatch"  # an unknown account answers the same: nothing to learn


def test_three_mismatches_lock_the_caller_number_for_a_day(db: Path) -> None:
    def report(caller: str, when: Any = NOW) -> dict[str, Any]:
        return op.report_card_loss(account="31000002", id_number=ZHANG_ID, caller=caller, now=when)

    assert [report("10086")["attempts_left"] for _ in range(2)] == [2, 1]
    assert report("10086")["reason"] == "identity_locked"
    right = op.report_card_loss(account="31000001", id_number=ZHANG_ID, caller="10086", now=NOW)
    assert right["reason"] == "identity_locked"  # even the right pair, until the lock ends
    assert op.report_card_loss(account="31000001", id_number=ZHANG_ID, caller="10010", now=NOW)["ok"]
    tomorrow = NOW + timedelta(hours=24, minutes=1)
    assert op.report_card_loss(account="31000001", id_number=ZHANG_ID, caller="10086", now=tomorrow)["ok"]


def test_a_match_forgives_earlier_mismatches(db: Path) -> None:
    op.report_card_loss(account="31000002", id_number=ZHANG_ID, caller="10086", now=NOW)
    op.report_card_loss(account="31000002", id_number=ZHANG_ID, caller="10086", now=NOW)
    assert op.report_card_loss(account="31000001", id_number=ZHANG_ID, caller="10086", now=NOW)["ok"]
    assert (
        op.report_card_loss(account="31000002", id_number=ZHANG_ID, caller="10086", now=NOW)["attempts_left"]
        == 2
    )


def test_a_card_reported_twice_answers_with_the_first_report(db: Path) -> None:
    first = op.report_card_loss(account="31000001", id_number=ZHANG_ID)
    again = op.report_card_loss(account="31000001", id_number=ZHANG_ID)
    assert again["ok"] and again["duplicate"] and again["report_no"] == first["report_no"]


def test_a_loss_report_needs_a_known_kind(db: Path) -> None:
    with pytest.raises(BrokerageError):
        op.report_card_loss(account="31000001", id_number=ZHANG_ID, kind="wallet")


def test_old_demo_databases_get_valid_id_numbers(tmp_path: Path) -> None:
    path = fresh_database(tmp_path / "old.sqlite3")
    with sqlite3.connect(path) as conn:
        for old, new in ID_NUMBER_FIXES:
            conn.execute("UPDATE customers SET id_number = ? WHERE id_number = ?", (old, new))
        conn.execute("PRAGMA user_version = 1")
    with connect(path) as conn:
        numbers = {row[0] for row in conn.execute("SELECT id_number FROM customers")}
    assert numbers == {new for _, new in ID_NUMBER_FIXES}
    assert all(rules.id_number(n) == n for n in numbers)
