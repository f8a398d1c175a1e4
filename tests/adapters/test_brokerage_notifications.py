"""Fills and cancels of phone orders leave a notification row, in the transaction of the
fill: one row per fill (never lost, never twice), with what the customer is told."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ivr.adapters.brokerage import matching
from ivr.adapters.brokerage import operations as op
from ivr.adapters.brokerage.db import ENV_VAR, connect
from ivr.adapters.brokerage.testing import fresh_database, next_day_time, trading_time

NOW = trading_time(10, 0)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = fresh_database(tmp_path / "brokerage.sqlite3")
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


def buy(code: str, price: str, key: str, qty: int = 100) -> dict[str, Any]:
    return op.place_order(
        account="31000002",
        market="SH",
        side="buy",
        code=code,
        qty=qty,
        price=price,
        idempotency_key=key,
        now=NOW,
    )


def notifications(db: Path) -> list[sqlite3.Row]:
    with connect(db) as conn:
        return conn.execute("SELECT * FROM order_notifications ORDER BY id").fetchall()


def test_a_filled_phone_order_leaves_one_notification_with_the_fill(db: Path) -> None:
    limit_up = op.get_quote(code="600000")["limit_up"]
    placed = buy("600000", str(limit_up), "n-1")
    matching.match_once(now=NOW)
    [row] = notifications(db)
    status = op.order_status(account="31000002", order_no=placed["order_no"])
    assert status["status"] == "filled"
    assert (row["key"], row["kind"], row["order_no"], row["qty"], row["code"]) == (
        f"n{row['id']}",
        "fill",
        placed["order_no"],
        100,
        "600000",
    )
    assert row["account_last4"] == "0002" and row["phone"] and row["stock"] == "浦发银行"
    assert f"{row['price']}元" in row["sms_text"] and "100股" in row["sms_text"]
    matching.match_once(now=NOW)  # nothing more to fill: no second row
    assert len(notifications(db)) == 1


def test_a_fill_that_fails_leaves_no_notification(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buy("600000", str(op.get_quote(code="600000")["limit_up"]), "n-2")

    def broken(*args: object) -> int:
        raise RuntimeError("the quote walk failed")

    monkeypatch.setattr(matching, "_walk_quotes", broken)
    with pytest.raises(RuntimeError):
        matching.match_once(now=NOW)
    assert notifications(db) == []  # the fill rolled back, and its notification with it


def test_an_order_that_expires_unfilled_leaves_a_cancel_notification(db: Path) -> None:
    limit_down = op.get_quote(code="600000")["limit_down"]
    placed = buy("600000", str(limit_down), "n-3", qty=200)
    matching.match_once(now=next_day_time())  # the day rolls: unfilled day orders are cancelled
    [row] = notifications(db)
    assert (row["kind"], row["order_no"], row["qty"]) == ("cancel", placed["order_no"], 200)
    assert "已撤单" in row["sms_text"]
