"""Market data operations: quotes, period highs and lows, the market summary, company facts."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

from ivr.adapters.brokerage.db import connect, yuan
from ivr.adapters.brokerage.rules import board_of, price_limits

BOARDS = {"main": ("主板", "main board"), "chinext": ("创业板", "ChiNext"), "star": ("科创板", "STAR Market")}
# Index levels at the seed date; today's level follows the constituents' average change.
INDEXES = (
    ("sh", "上证指数", "SSE Composite", Decimal("3880.00"), "SH", None),
    ("sz", "深证成指", "SZSE Component", Decimal("13050.00"), "SZ", None),
    ("cyb", "创业板指", "ChiNext Index", Decimal("3050.00"), "SZ", "chinext"),
)


def _code(code: object) -> str:
    return str(code).strip()


def _quote_row(conn: sqlite3.Connection, code: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM quotes WHERE code = ?", (code,)).fetchone()
    return row


def quote_answer(row: sqlite3.Row) -> dict[str, Any]:
    prev_close, last = yuan(row["prev_close_fen"]), yuan(row["last_fen"])
    change = last - prev_close
    limits = price_limits(prev_close, row["code"], bool(row["st"]))
    zh, en = BOARDS[board_of(row["code"])]
    return {
        "found": True,
        "code": row["code"],
        "name": row["name"],
        "name_en": row["name_en"],
        "market": row["market"],
        "board_zh": zh,
        "board_en": en,
        "st": bool(row["st"]),
        "suspended": bool(row["suspended"]),
        "prev_close": prev_close,
        "open": yuan(row["open_fen"]),
        "last": last,
        "high": yuan(row["high_fen"]),
        "low": yuan(row["low_fen"]),
        "change": change,
        "change_pct": (change * 100 / prev_close).quantize(Decimal("0.01")),
        "limit_up": limits.up,
        "limit_down": limits.down,
        "volume": row["volume"],
        "trade_date": row["trade_date"],
    }


def get_quote(code: str) -> dict[str, Any]:
    """The latest quote for a six-digit code; `found` is False for an unknown code."""
    with connect() as conn:
        row = _quote_row(conn, _code(code))
    if row is None:
        return {"found": False, "code": _code(code), "name": "", "name_en": "", "suspended": False}
    return quote_answer(row)


def period_high_low(code: str, days: int | str) -> dict[str, Any]:
    """Highest and lowest price over the last `days` trading days (today included)."""
    count = max(1, min(int(str(days)), 250))
    with connect() as conn:
        row = _quote_row(conn, _code(code))
        if row is None:
            return {"found": False, "code": _code(code), "name": "", "name_en": "", "days": count}
        history = conn.execute(
            "SELECT trade_date, high_fen, low_fen FROM quote_history WHERE code = ? AND trade_date < ? "
            "ORDER BY trade_date DESC LIMIT ?",
            (row["code"], row["trade_date"], count - 1),
        ).fetchall()
    bars = [(row["trade_date"], row["high_fen"], row["low_fen"]), *map(tuple, history)]
    high = max(bars, key=lambda bar: bar[1])
    low = min(bars, key=lambda bar: bar[2])
    return {
        "found": True,
        "code": row["code"],
        "name": row["name"],
        "name_en": row["name_en"],
        "days": len(bars),
        "high": yuan(high[1]),
        "high_date": high[0],
        "low": yuan(low[2]),
        "low_date": low[0],
    }


def market_summary() -> dict[str, Any]:
    """Index levels and breadth: `sh_index`, `sh_change_pct`, `sz_...`, `cyb_...`,
    `advancers`, `decliners`, `unchanged`."""
    with connect() as conn:
        rows = conn.execute("SELECT * FROM quotes WHERE suspended = 0").fetchall()
    changes = [
        (row, Decimal(row["last_fen"] - row["prev_close_fen"]) / row["prev_close_fen"]) for row in rows
    ]
    answer: dict[str, Any] = {
        "advancers": sum(1 for _, change in changes if change > 0),
        "decliners": sum(1 for _, change in changes if change < 0),
        "unchanged": sum(1 for _, change in changes if change == 0),
    }
    for key, name, name_en, base, market, board in INDEXES:
        members = [
            c for row, c in changes if row["market"] == market and board in (None, board_of(row["code"]))
        ]
        average = sum(members, Decimal(0)) / len(members) if members else Decimal(0)
        answer[f"{key}_name"] = name
        answer[f"{key}_name_en"] = name_en
        answer[f"{key}_index"] = (base * (1 + average)).quantize(Decimal("0.01"))
        answer[f"{key}_change_pct"] = (average * 100).quantize(Decimal("0.01"))
    return answer


def company_info(code: str) -> dict[str, Any]:
    """Listed-company facts: name, board, industry, listing date, a one-line profile."""
    with connect() as conn:
        row = _quote_row(conn, _code(code))
    if row is None:
        return {"found": False, "code": _code(code), "name": "", "name_en": ""}
    zh, en = BOARDS[board_of(row["code"])]
    exchange_zh = "上海证券交易所" if row["market"] == "SH" else "深圳证券交易所"
    exchange_en = "the Shanghai Stock Exchange" if row["market"] == "SH" else "the Shenzhen Stock Exchange"
    return {
        "found": True,
        "code": row["code"],
        "name": row["name"],
        "name_en": row["name_en"],
        "industry": row["industry"],
        "industry_en": row["industry_en"],
        "listed_on": row["listed_on"],
        "profile_zh": f"{row['name']}，{exchange_zh}{zh}上市公司，所属行业{row['industry']}，"
        f"上市日期{row['listed_on']}。",
        "profile_en": f"{row['name_en']} is listed on the {en} of {exchange_en}, in {row['industry_en']}, "
        f"since {row['listed_on']}.",
        "st": bool(row["st"]),
        "suspended": bool(row["suspended"]),
    }
