"""Price alerts in the back office: armed idempotently, refused when they cannot fire, and
fired once by the matching simulator's tick when the quote crosses (then spent), each
leaving exactly one notification row in the tick's transaction."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ivr.adapters.brokerage import matching
from ivr.adapters.brokerage import operations as op
from ivr.adapters.brokerage.alerts import fire_alerts
from ivr.adapters.brokerage.db import ENV_VAR, BrokerageError, connect, transaction
from ivr.adapters.brokerage.testing import fresh_database, trading_time

NOW = trading_time(10, 0)
CENT = Decimal("0.01")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = fresh_database(tmp_path / "brokerage.sqlite3")
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


def alert(direction: str, price: Decimal | str, key: str, code: str = "600519") -> dict[str, Any]:
    return op.set_price_alert(
        account="31000002", code=code, direction=direction, price=str(price), idempotency_key=key, now=NOW
    )


def rows(db: Path, table: str) -> list[sqlite3.Row]:
    with connect(db) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


def last() -> Decimal:
    price: Decimal = op.get_quote(code="600519")["last"]
    return price


def test_an_alert_is_armed_once_per_key_and_refused_when_it_could_never_fire(db: Path) -> None:
    armed = alert("above", last() + 100, "k1")
    again = alert("above", last() + 100, "k1")
    assert armed["ok"] and armed["name"] == "贵州茅台" and armed["price"] == last() + 100
    assert again["duplicate"] and again["alert_no"] == armed["alert_no"]
    assert alert("above", last() - 1, "k2")["reason"] == "alert_already_crossed"
    assert alert("below", last() + 1, "k3")["reason"] == "alert_already_crossed"
    assert alert("above", "12.345", "k4")["reason"] == "bad_price"
    assert alert("above", "20", "k5", code="999999")["reason"] == "unknown_code"
    with pytest.raises(BrokerageError, match="above or below"):
        alert("sideways", "20", "k6")
    assert len(rows(db, "price_alerts")) == 1


def set_last(db: Path, price: Decimal) -> int:
    """The market moves to `price`; the watcher runs as in a tick. How many alerts fired."""
    with connect(db) as conn, transaction(conn):
        conn.execute("UPDATE quotes SET last_fen = ? WHERE code = '600519'", (int(price * 100),))
        return fire_alerts(conn, NOW)


def test_a_crossing_fires_the_alert_once_and_it_is_spent(db: Path) -> None:
    start = last()
    up = alert("above", start + 10, "up")
    assert set_last(db, start + Decimal("9.99")) == 0  # not yet
    assert set_last(db, start + 10) == 1  # reached: fired
    for price in (start, start + 20, start + 10):  # back down and up again: spent
        assert set_last(db, price) == 0
    [note] = rows(db, "alert_notifications")
    assert (note["key"], note["alert_no"], note["code"], note["direction"], note["stock"]) == (
        f"a{note['id']}",
        up["alert_no"],
        "600519",
        "above",
        "贵州茅台",
    )
    assert note["target"] == str(start + 10) and "已涨到" in note["sms_text"] and note["phone"]


def test_the_matching_ticks_run_the_watcher(db: Path) -> None:
    # one alert a cent above the last price, one a cent below: the walk crosses at least one
    up, down = alert("above", last() + CENT, "up"), alert("below", last() - CENT, "down")
    far = alert("above", last() * 2, "far")  # beyond today's limit up: never reached
    for minute in range(10):
        matching.match_once(now=NOW + timedelta(minutes=minute))
    fired = {r["alert_no"] for r in rows(db, "price_alerts") if r["fired_at"] is not None}
    notes = [n["alert_no"] for n in rows(db, "alert_notifications")]
    assert fired and fired <= {up["alert_no"], down["alert_no"]} and far["alert_no"] not in fired
    assert sorted(notes) == sorted(fired)  # one notification per fired alert
