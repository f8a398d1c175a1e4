"""Phone orders under the A-share rules, idempotency, cancelling and the matching simulator."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ivr.adapters.brokerage import matching
from ivr.adapters.brokerage import operations as op
from ivr.adapters.brokerage.db import ENV_VAR, BrokerageError, connect
from ivr.adapters.brokerage.testing import fresh_database, next_day_time, trading_time

NOW = trading_time(10, 0)
_keys = iter(range(1_000_000))


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = fresh_database(tmp_path / "brokerage.sqlite3")
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


def order(
    account: str, side: str, code: str, qty: int | str, price: Decimal | str, **kw: Any
) -> dict[str, Any]:
    market = "SH" if code.startswith("6") else "SZ"
    return op.place_order(
        account=account, market=kw.pop("market", market), side=side, code=code, qty=qty, price=price,
        idempotency_key=kw.pop("key", f"test-{next(_keys)}"), now=kw.pop("now", NOW),
    )  # fmt: skip


def last(code: str) -> Decimal:
    price: Decimal = op.get_quote(code=code)["last"]
    return price


def limits(code: str) -> tuple[Decimal, Decimal, Decimal]:
    quote = op.get_quote(code=code)
    return quote["prev_close"], quote["limit_down"], quote["limit_up"]


def refused(answer: dict[str, Any], reason: str) -> bool:
    return answer["ok"] is False and answer["status"] == "rejected" and answer["reason"] == reason


def test_buy_in_lots_of_100_is_accepted_and_freezes_cash(db: Path) -> None:
    answer = order("31000001", "buy", "600036", 1000, last("600036"))
    assert answer["ok"] and answer["status"] == "new" and answer["order_no"].isdigit()
    assert answer["name"] == "招商银行"
    cash = op.cash_balance(account="31000001")
    assert cash["frozen"] > last("600036") * 1000  # amount plus fees
    assert cash["available"] + cash["frozen"] == Decimal("500000.00")


def test_buy_not_in_lots_of_100_is_refused(db: Path) -> None:
    answer = order("31000001", "buy", "600036", 150, last("600036"))
    assert refused(answer, "lot_size") and answer["reason_zh"] == "买入数量必须是一百股的整数倍"


def test_sell_may_sell_the_odd_lot_remainder_but_not_other_odd_amounts(db: Path) -> None:
    price = last("600892")  # ST stock, 1050 shares held
    assert refused(order("31000002", "sell", "600892", 30, price), "odd_lot")
    assert order("31000002", "sell", "600892", 50, price)["ok"]
    assert order("31000002", "sell", "600892", 1000, price)["ok"]


def test_star_market_needs_at_least_200_shares_then_any_number(db: Path) -> None:
    price = last("688981")
    assert refused(order("31000001", "buy", "688981", 100, price), "star_min_quantity")
    assert order("31000001", "buy", "688981", 201, price)["ok"]


@pytest.mark.parametrize(
    ("code", "rate"),
    [("600036", "0.10"), ("000001", "0.10"), ("300750", "0.20"), ("688981", "0.20"), ("600892", "0.05")],
)
def test_price_limits_by_board(db: Path, code: str, rate: str) -> None:
    prev_close, down, up = limits(code)
    assert up == (prev_close * (1 + Decimal(rate))).quantize(Decimal("0.01"))
    assert down == (prev_close * (1 - Decimal(rate))).quantize(Decimal("0.01"))
    qty = 200 if code.startswith("688") else 100
    assert order("31000003", "buy", code, qty, up)["ok"]
    assert order("31000003", "buy", code, qty, down)["ok"]
    assert refused(order("31000003", "buy", code, qty, up + Decimal("0.01")), "price_limit")
    assert refused(order("31000003", "buy", code, qty, down - Decimal("0.01")), "price_limit")


def test_price_must_be_in_whole_fen(db: Path) -> None:
    assert refused(order("31000001", "buy", "600036", 100, str(last("600036")) + "5"), "price_tick")
    assert refused(order("31000001", "buy", "600036", 100, "abc"), "bad_price")


@pytest.mark.parametrize("when", [trading_time(9, 0), trading_time(12, 0), trading_time(15, 0)])
def test_orders_outside_trading_hours_are_refused(db: Path, when: Any) -> None:
    assert refused(order("31000001", "buy", "600036", 100, last("600036"), now=when), "market_closed")


def test_orders_on_a_weekend_are_refused(db: Path) -> None:
    saturday = NOW + timedelta(days=(5 - NOW.weekday()) % 7)
    assert refused(order("31000001", "buy", "600036", 100, last("600036"), now=saturday), "market_closed")


def test_buy_needs_cash_for_amount_and_fees(db: Path) -> None:
    # 20,000 yuan available: 100 Moutai shares cost far more
    assert refused(order("31000002", "buy", "600519", 100, last("600519")), "insufficient_cash")


def test_sell_needs_holdings(db: Path) -> None:
    assert refused(order("31000002", "sell", "601318", 400, last("601318")), "insufficient_shares")
    assert refused(order("31000002", "sell", "600036", 100, last("600036")), "insufficient_shares")


def test_shares_bought_today_are_sellable_next_trading_day(db: Path) -> None:
    bought = order("31000002", "buy", "600000", 100, limits("600000")[2])
    matching.match_once(now=NOW)
    assert op.order_status(account="31000002", order_no=bought["order_no"])["status"] == "filled"
    assert refused(order("31000002", "sell", "600000", 100, last("600000")), "t_plus_one")
    tomorrow = next_day_time()
    assert order("31000002", "sell", "600000", 100, last("600000"), now=tomorrow)["ok"]


@pytest.mark.parametrize(
    ("code", "market", "reason"),
    [("999999", "SH", "unknown_code"), ("600036", "SZ", "market_mismatch"), ("002512", "SZ", "suspended")],
)
def test_code_problems_are_refused(db: Path, code: str, market: str, reason: str) -> None:
    assert refused(order("31000001", "buy", code, 100, "10.00", market=market), reason)


def test_locked_and_unknown_accounts_are_refused(db: Path) -> None:
    assert refused(order("31000005", "buy", "600036", 100, last("600036")), "account_locked")
    assert refused(order("00000000", "buy", "600036", 100, last("600036")), "unknown_account")


def test_same_idempotency_key_returns_the_same_order_and_places_it_once(db: Path) -> None:
    first = order("31000001", "buy", "600036", 100, last("600036"), key="call-1:1")
    again = order("31000001", "buy", "600036", 100, last("600036"), key="call-1:1")
    assert again["order_no"] == first["order_no"] and again["duplicate"] and not first["duplicate"]
    with connect(db) as conn:
        assert (
            conn.execute("SELECT COUNT(*) FROM orders WHERE idempotency_key = 'call-1:1'").fetchone()[0] == 1
        )
    assert op.cash_balance(account="31000001")["frozen"] < last("600036") * 101
    with pytest.raises(BrokerageError, match="different order"):
        order("31000001", "sell", "600519", 100, last("600519"), key="call-1:1")


def test_order_row_is_committed_before_the_answer(db: Path) -> None:
    answer = order("31000001", "buy", "000001", 100, last("000001"))
    with connect(db) as conn:  # an independent connection, as after a crash
        row = conn.execute("SELECT status FROM orders WHERE order_no = ?", (answer["order_no"],)).fetchone()
    assert row[0] == "new"


def test_cancel_releases_cash_and_cannot_repeat(db: Path) -> None:
    answer = order("31000001", "buy", "600036", 1000, limits("600036")[1])
    cancelled = op.cancel_order(account="31000001", order_no=answer["order_no"])
    assert cancelled["ok"] and cancelled["status"] == "cancelled"
    assert op.cash_balance(account="31000001")["available"] == Decimal("500000.00")
    again = op.cancel_order(account="31000001", order_no=answer["order_no"])
    assert again["ok"] is False and again["reason"] == "already_cancelled"
    assert op.cancel_order(account="31000001", order_no="1")["reason"] == "not_found"
    assert op.order_status(account="31000002", order_no=answer["order_no"])["found"] is False


def test_matching_moves_orders_through_their_statuses(db: Path) -> None:
    resting = order("31000003", "buy", "600036", 10000, limits("600036")[1])  # at the limit down
    crossing = order("31000003", "buy", "601398", 10000, limits("601398")[2])  # at the limit up
    seen = set()
    for minute in range(30):
        report = matching.match_once(now=NOW + timedelta(minutes=minute))
        assert report.in_session
        seen.add(op.order_status(account="31000003", order_no=crossing["order_no"])["status"])
    assert "filled" in seen
    assert op.order_status(account="31000003", order_no=resting["order_no"])["status"] == "new"
    held = {i["code"]: i for i in op.positions(account="31000003")["items"]}
    assert held["601398"]["qty"] == 10000 and held["601398"]["sellable"] == 0
    cash = op.cash_balance(account="31000003")
    assert cash["frozen"] > 0  # the resting order still holds its cash
    assert op.recent_transactions(account="31000003", n=1)["items"][0]["code"] == "601398"


def test_partial_fills_happen(db: Path) -> None:
    statuses = set()
    for n in range(6):
        placed = order("31000003", "buy", "601988", 10000, limits("601988")[2], key=f"partial-{n}")
        matching.match_once(now=NOW)
        statuses.add(op.order_status(account="31000003", order_no=placed["order_no"])["status"])
    assert "partially_filled" in statuses


def test_sell_fill_credits_cash_after_fees(db: Path) -> None:
    before = op.cash_balance(account="31000001")["available"]
    sold = order("31000001", "sell", "000001", 1000, limits("000001")[1])
    while op.order_status(account="31000001", order_no=sold["order_no"])["status"] != "filled":
        matching.match_once(now=NOW)
    after = op.cash_balance(account="31000001")["available"]
    assert before < after < before + limits("000001")[2] * 1000


def test_no_matching_outside_trading_hours(db: Path) -> None:
    report = matching.match_once(now=trading_time(12, 30))
    assert not report.in_session and report.fills == 0


def test_next_day_expires_open_orders(db: Path) -> None:
    resting = order("31000001", "buy", "600036", 100, limits("600036")[1])
    matching.match_once(now=next_day_time())
    assert op.order_status(account="31000001", order_no=resting["order_no"])["status"] == "cancelled"
    assert op.cash_balance(account="31000001", now=next_day_time())["frozen"] == 0


def test_check_order_gives_the_refusal_place_order_would_and_places_nothing(db: Path) -> None:
    def check(side: str, code: str, qty: int, price: Decimal | str, **kw: Any) -> dict[str, Any]:
        market = "SH" if code.startswith("6") else "SZ"
        return op.check_order(
            account=kw.get("account", "31000001"), market=market, side=side, code=code, qty=qty, price=price,
            now=kw.get("now", NOW),
        )  # fmt: skip

    price = last("600036")
    fine = check("buy", "600036", 1000, price)
    assert fine["ok"] and fine["reason"] == "" and fine["name"] == "招商银行"
    assert fine["amount"] == price * 1000 and fine["cost"] > fine["amount"]  # plus fees
    lot = check("buy", "600036", 150, price)
    assert (lot["ok"], lot["reason"], lot["reason_zh"]) == (False, "lot_size", "买入数量必须是一百股的整数倍")
    assert refused(order("31000001", "buy", "600036", 150, price), lot["reason"])  # the same verdict
    up = limits("600036")[2]
    assert check("buy", "600036", 100, up + Decimal("0.01"))["reason"] == "price_limit"
    assert check("sell", "600036", 100, price)["reason"] == "insufficient_shares"  # 31000001 holds none
    sell = check("sell", "600036", 100, price, account="31000003")
    assert sell["ok"] and sell["cost"] is None
    assert check("buy", "600036", 100, price, now=trading_time(12, 0))["reason"] == "market_closed"
    with connect() as conn:
        placed = conn.execute("SELECT COUNT(*) FROM orders WHERE qty = 1000").fetchone()[0]
    assert placed == 0, "a check places nothing"
