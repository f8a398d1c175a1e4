"""Bank-brokerage transfers (window, caps, idempotency) and loss reports."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ivr.adapters.brokerage import operations as op
from ivr.adapters.brokerage.db import ENV_VAR, BrokerageError
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


def test_card_loss_report_by_account_or_id_stops_transfers(db: Path) -> None:
    report = op.report_card_loss(account="31000001", kind="card", caller="13800138000")
    assert report["ok"] and report["report_no"].isdigit()
    assert move("31000001", "bank_to_broker", "1")["reason"] == "card_reported_lost"
    by_id = op.report_card_loss(id_number="110101198003071234", kind="passbook")
    assert by_id["ok"] and by_id["account"] == "31000001"
    assert op.report_card_loss(account="00000000")["reason"] == "unknown_account"
    with pytest.raises(BrokerageError):
        op.report_card_loss(account="31000001", kind="wallet")
