"""A small matching simulator, so orders placed by phone change status over time.

`match_once` is one tick: during trading hours it fills open limit orders against the
current last price (a buy at or above it, a sell at or below it; larger orders may fill
in parts), then moves every quote a little by a seeded random walk inside its daily
limits and fires the price alerts the new quotes reach (`alerts.fire_alerts`). Each fill
and each fired alert leaves its notification row in the tick's transaction. Ticks are
numbered in the database, so a run is reproducible from a fresh seed.
`serve_matching` runs ticks forever as a trio task (each tick in a worker thread).
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import trio

from ivr.adapters.brokerage import rules
from ivr.adapters.brokerage.alerts import fire_alerts
from ivr.adapters.brokerage.clock import current_trading_date, in_trading_session
from ivr.adapters.brokerage.db import connect, fen, timestamp, transaction, yuan
from ivr.adapters.brokerage.notifications import notify_order
from ivr.adapters.brokerage.trading import roll_to

WALK_SIGMA = 0.002


@dataclass(frozen=True)
class TickReport:
    tick: int
    fills: int
    moved: int
    in_session: bool


@contextmanager
def _use(db: sqlite3.Connection | str | Path | None) -> Iterator[sqlite3.Connection]:
    if isinstance(db, sqlite3.Connection):
        yield db
    else:
        with connect(db) as conn:
            yield conn


def match_once(db: sqlite3.Connection | str | Path | None = None, now: datetime | None = None) -> TickReport:
    """Run one tick (see the module docstring); `db` is a connection, a path or None for
    `$IVR_BROKERAGE_DB`."""
    with _use(db) as conn, transaction(conn):
        today = current_trading_date(now)
        roll_to(conn, today, now)
        tick = int(conn.execute("SELECT value FROM meta WHERE key = 'matching_tick'").fetchone()[0]) + 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'matching_tick'", (str(tick),))
        if not in_trading_session(now):
            return TickReport(tick, 0, 0, in_session=False)
        seed = conn.execute("SELECT value FROM meta WHERE key = 'matching_seed'").fetchone()[0]
        rng = random.Random(f"{seed}:{tick}")
        fills = _match_orders(conn, rng, today.isoformat(), now)
        moved = _walk_quotes(conn, rng)
        fire_alerts(conn, now)  # the market data's watcher: spent with this tick, or not at all
        return TickReport(tick, fills, moved, in_session=True)


def _match_orders(conn: sqlite3.Connection, rng: random.Random, today: str, now: datetime | None) -> int:
    fills = 0
    orders = conn.execute(
        "SELECT o.*, q.last_fen FROM orders o JOIN quotes q ON q.code = o.code "
        "WHERE o.status IN ('new', 'partially_filled') AND q.suspended = 0 ORDER BY o.created_at, o.order_no"
    ).fetchall()
    for order in orders:
        last = order["last_fen"]
        crosses = order["price_fen"] >= last if order["side"] == "buy" else order["price_fen"] <= last
        if not crosses:
            continue
        remaining = order["qty"] - order["filled_qty"]
        qty = remaining
        if remaining >= 2 * rules.LOT and rng.random() < 0.5:
            half = remaining // 2
            qty = (
                half
                if rules.board_of(order["code"]) == "star"
                else max(half // rules.LOT * rules.LOT, rules.LOT)
            )
        _fill(conn, order, qty, last, today, now)
        fills += 1
    return fills


def _fees(side: str, amount: Decimal) -> Decimal:
    if amount <= 0:
        return Decimal(0)
    return (
        rules.sell_fees(amount) if side == "sell" else rules.commission(amount) + rules.transfer_fee(amount)
    )


def _fill(conn: sqlite3.Connection, order: sqlite3.Row, qty: int, price_fen: int, today: str,
          now: datetime | None) -> None:  # fmt: skip
    amount_fen = price_fen * qty
    total_amount = order["filled_amount_fen"] + amount_fen
    # Fees are charged cumulatively, so the minimum commission is paid once per order.
    fee = fen(_fees(order["side"], yuan(total_amount))) - order["fees_fen"]
    filled = order["filled_qty"] + qty
    status = "filled" if filled == order["qty"] else "partially_filled"
    account, code = order["account_no"], order["code"]
    if order["side"] == "buy":
        cost = amount_fen + fee
        from_frozen = min(cost, order["frozen_fen"])
        left = order["frozen_fen"] - from_frozen
        release = left if status == "filled" else 0
        conn.execute(
            "UPDATE cash SET frozen_fen = frozen_fen - ? - ?, available_fen = available_fen - ? + ? "
            "WHERE account_no = ?",
            (from_frozen, release, cost - from_frozen, release, account),
        )
        conn.execute(
            "INSERT INTO positions(account_no, code, qty, bought_today, bought_on, cost_fen) "
            "VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(account_no, code) DO UPDATE SET qty = qty + excluded.qty, "
            "bought_today = CASE WHEN bought_on = excluded.bought_on THEN bought_today + excluded.qty "
            "ELSE excluded.qty END, bought_on = excluded.bought_on, cost_fen = cost_fen + excluded.cost_fen",
            (account, code, qty, qty, today, cost),
        )
        frozen_after, cash_change = left - release, -cost
    else:
        proceeds = amount_fen - fee
        conn.execute(
            "UPDATE cash SET available_fen = available_fen + ? WHERE account_no = ?", (proceeds, account)
        )
        conn.execute(
            "UPDATE positions SET cost_fen = cost_fen - cost_fen * ? / qty, qty = qty - ?, "
            "sell_frozen = sell_frozen - ? WHERE account_no = ? AND code = ?",
            (qty, qty, qty, account, code),
        )
        frozen_after, cash_change = 0, proceeds
    conn.execute(
        "UPDATE orders SET filled_qty = ?, filled_amount_fen = ?, fees_fen = fees_fen + ?, frozen_fen = ?, "
        "status = ?, updated_at = ? WHERE order_no = ?",
        (filled, total_amount, fee, frozen_after, status, timestamp(now), order["order_no"]),
    )
    notify_order(conn, order, "fill", qty, price_fen, now)  # commits with the fill, or not at all
    conn.execute(
        "INSERT INTO transactions(account_no, at, kind, code, qty, price_fen, amount_fen, ref) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (account, timestamp(now), order["side"], code, qty, price_fen, cash_change, order["order_no"]),
    )


def _walk_quotes(conn: sqlite3.Connection, rng: random.Random) -> int:
    quotes = conn.execute("SELECT * FROM quotes WHERE suspended = 0 ORDER BY code").fetchall()
    for quote in quotes:
        limits = rules.price_limits(yuan(quote["prev_close_fen"]), quote["code"], bool(quote["st"]))
        step = Decimal(str(round(rng.gauss(0, WALK_SIGMA), 5)))
        last = min(max(rules.to_price(yuan(quote["last_fen"]) * (1 + step)), limits.down), limits.up)
        conn.execute(
            "UPDATE quotes SET last_fen = ?, high_fen = MAX(high_fen, ?), low_fen = MIN(low_fen, ?), "
            "volume = volume + ? WHERE code = ?",
            (fen(last), fen(last), fen(last), rng.randrange(1, 50) * 100, quote["code"]),
        )
    return len(quotes)


async def serve_matching(interval: float = 3.0, db: str | Path | None = None) -> None:
    """Tick forever (cancel the enclosing scope to stop); each tick runs in a worker thread
    because sqlite3 blocks."""
    while True:
        await trio.to_thread.run_sync(match_once, db)
        await trio.sleep(interval)
