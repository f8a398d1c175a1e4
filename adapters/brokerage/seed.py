"""Demo data: customers with their PINs, accounts, bank links, holdings and ~30 A-shares
with 60 trading days of history. Prices come from a seeded random walk, so every fresh
database holds the same numbers (only the dates follow the day it was created).

The demo PINs are listed here and in docs/brokerage.md on purpose: they are for the demo
only, and the database stores nothing but their salted hashes.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ivr.adapters.brokerage.clock import current_trading_date, previous_trading_day, trading_days_before
from ivr.adapters.brokerage.db import fen, timestamp
from ivr.adapters.brokerage.pins import hash_pin
from ivr.adapters.brokerage.rules import market_of, price_limits, to_price

SEED = 95500
HISTORY_DAYS = 60


@dataclass(frozen=True)
class Listing:
    code: str
    name: str
    name_en: str
    close: str  # a plausible recent close, in yuan
    industry: str
    industry_en: str
    listed_on: str
    st: bool = False
    suspended: bool = False


LISTINGS: tuple[Listing, ...] = (
    Listing("600519", "贵州茅台", "Kweichow Moutai", "1450.00", "白酒", "liquor", "2001-08-27"),
    Listing("600036", "招商银行", "China Merchants Bank", "42.80", "银行", "banking", "2002-04-09"),
    Listing("601318", "中国平安", "Ping An Insurance", "55.20", "保险", "insurance", "2007-03-01"),
    Listing("600000", "浦发银行", "SPD Bank", "11.60", "银行", "banking", "1999-11-10"),
    Listing("601398", "工商银行", "ICBC", "7.45", "银行", "banking", "2006-10-27"),
    Listing("601288", "农业银行", "Agricultural Bank of China", "6.55", "银行", "banking", "2010-07-15"),
    Listing("601988", "中国银行", "Bank of China", "5.62", "银行", "banking", "2006-07-05"),
    Listing("600028", "中国石化", "Sinopec", "5.80", "石油化工", "petrochemicals", "2001-08-08"),
    Listing("601857", "中国石油", "PetroChina", "8.90", "石油化工", "petrochemicals", "2007-11-05"),
    Listing("600276", "恒瑞医药", "Jiangsu Hengrui Pharmaceuticals", "60.10", "医药", "pharmaceuticals",
            "2000-10-18"),
    Listing("600900", "长江电力", "China Yangtze Power", "28.30", "电力", "utilities", "2003-11-18"),
    Listing("601012", "隆基绿能", "LONGi Green Energy", "19.40", "光伏", "solar", "2012-04-11"),
    Listing("600030", "中信证券", "CITIC Securities", "28.60", "证券", "securities", "2003-01-06"),
    Listing("601166", "兴业银行", "Industrial Bank", "20.50", "银行", "banking", "2007-02-05"),
    Listing("600887", "伊利股份", "Inner Mongolia Yili", "28.10", "食品", "food", "1996-03-12"),
    Listing("000001", "平安银行", "Ping An Bank", "11.52", "银行", "banking", "1991-04-03"),
    Listing("000858", "五粮液", "Wuliangye Yibin", "120.50", "白酒", "liquor", "1998-04-27"),
    Listing("000333", "美的集团", "Midea Group", "78.30", "家电", "home appliances", "2013-09-18"),
    Listing("000651", "格力电器", "Gree Electric", "40.20", "家电", "home appliances", "1996-11-18"),
    Listing("002415", "海康威视", "Hikvision", "31.40", "安防", "security equipment", "2010-05-28"),
    Listing("002594", "比亚迪", "BYD", "100.80", "汽车", "automobiles", "2011-06-30"),
    Listing("000002", "万科A", "China Vanke A", "5.50", "房地产", "real estate", "1991-01-29"),
    Listing("300750", "宁德时代", "CATL", "380.00", "电池", "batteries", "2018-06-11"),
    Listing("300059", "东方财富", "East Money Information", "24.30", "证券", "securities", "2010-03-19"),
    Listing("300760", "迈瑞医疗", "Mindray Medical", "200.40", "医疗器械", "medical devices", "2018-10-16"),
    Listing("301269", "华大九天", "Empyrean Technology", "110.20", "软件", "software", "2022-07-29"),
    Listing("688981", "中芯国际", "SMIC", "115.60", "半导体", "semiconductors", "2020-07-16"),
    Listing("688111", "金山办公", "Kingsoft Office", "300.50", "软件", "software", "2019-11-18"),
    Listing("688599", "天合光能", "Trina Solar", "18.20", "光伏", "solar", "2020-06-10"),
    # Fictional ST companies (demo only): a main-board ST stock has a ±5% daily limit.
    Listing("600892", "ST 金鼎", "ST Jinding", "3.20", "综合", "conglomerate", "1997-06-20", st=True),
    Listing("002512", "*ST 恒远", "*ST Hengyuan", "1.84", "纺织", "textiles", "2010-11-02", st=True,
            suspended=True),
)  # fmt: skip


@dataclass(frozen=True)
class DemoAccount:
    account_no: str
    trading_pin: str
    fund_pin: str
    cash: str
    holdings: tuple[tuple[str, int, str], ...]  # (code, shares, average cost)
    bank: tuple[str, str, str, str]  # (name, English name, last four digits, bank balance)
    is_primary: bool = True
    trading_locked: bool = False


# Until migration 2 the demo ID numbers had check characters that GB 11643 refuses; the
# loss report checks them now (`rules.id_number`), so the seeded rows are corrected.
ID_NUMBER_FIXES: tuple[tuple[str, str], ...] = (
    ("110101198003071234", "110101198003071239"),
    ("310104198511224321", "310104198511224322"),
    ("440305197702183456", "440305197702183457"),
    ("320102199002285678", "320102199002285673"),
)


@dataclass(frozen=True)
class DemoCustomer:
    name: str
    name_en: str
    id_number: str
    vip_tier: str
    email: str
    fax: str
    mobile: str
    callers: tuple[str, ...]
    accounts: tuple[DemoAccount, ...]


CUSTOMERS: tuple[DemoCustomer, ...] = (
    DemoCustomer(
        "张伟", "Zhang Wei", "110101198003071239", "gold", "zhang.wei@example.com", "01065550101",
        "13800138000", ("13800138000",),
        (DemoAccount("31000001", "135790", "246813", "500000.00",
                     (("600519", 100, "1380.00"), ("000001", 5000, "10.80"), ("300750", 200, "350.00")),
                     ("中国工商银行", "ICBC", "6789", "800000.00")),),
    ),
    DemoCustomer(
        "李娜", "Li Na", "310104198511224322", "standard", "li.na@example.com", "", "13900139000",
        ("13900139000",),
        (DemoAccount("31000002", "314159", "271828", "20000.00",
                     (("601318", 300, "52.00"), ("600892", 1050, "3.60"), ("688981", 250, "98.00")),
                     ("招商银行", "China Merchants Bank", "4321", "35000.00")),),
    ),
    DemoCustomer(
        "王芳", "Wang Fang", "440305197702183457", "platinum", "wang.fang@example.com", "075588889999",
        "13700137000", ("13700137000", "02161234567"),
        (DemoAccount("31000003", "582046", "693157", "2000000.00",
                     (("600036", 20000, "38.50"), ("000858", 1000, "130.00")),
                     ("中国银行", "Bank of China", "1357", "5000000.00")),
         DemoAccount("31000004", "470381", "815926", "100000.00", (("002594", 500, "95.00"),),
                     ("中国建设银行", "China Construction Bank", "2468", "200000.00"), is_primary=False)),
    ),
    DemoCustomer(
        "陈静", "Chen Jing", "320102199002285673", "standard", "chen.jing@example.com", "", "13600136000",
        ("13600136000",),
        (DemoAccount("31000005", "808264", "919375", "8000.00", (),
                     ("中国农业银行", "Agricultural Bank of China", "9753", "12000.00"),
                     trading_locked=True),),
    ),
)  # fmt: skip


def _seed_quotes(conn: sqlite3.Connection, today: date) -> None:
    history_dates = trading_days_before(today, HISTORY_DAYS)
    for listing in LISTINGS:
        rng = random.Random(f"{SEED}:{listing.code}")
        # Walk backwards from the listed close so the latest close is the plausible one.
        closes = [Decimal(listing.close)]
        for _ in range(HISTORY_DAYS - 1):
            step = Decimal(str(round(rng.gauss(0, 0.018), 4)))
            closes.append(to_price(closes[-1] / (1 + step)))
        closes.reverse()
        previous = closes[0]
        bars = []
        for day, close in zip(history_dates, closes, strict=True):
            limits = price_limits(previous, listing.code, listing.st)
            close = min(max(close, limits.down), limits.up)
            open_ = to_price(previous * Decimal(str(1 + rng.uniform(-0.01, 0.01))))
            open_ = min(max(open_, limits.down), limits.up)
            high = min(max(open_, close) * Decimal(str(1 + rng.uniform(0, 0.015))), limits.up)
            low = max(min(open_, close) * Decimal(str(1 - rng.uniform(0, 0.015))), limits.down)
            bars.append((listing.code, day.isoformat(), fen(open_), fen(to_price(high)), fen(to_price(low)),
                         fen(close), rng.randrange(20_000, 900_000) * 100))  # fmt: skip
            previous = close
        prev_close = previous
        limits = price_limits(prev_close, listing.code, listing.st)
        last = min(max(to_price(prev_close * Decimal(str(1 + rng.uniform(-0.03, 0.03)))), limits.down),
                   limits.up)  # fmt: skip
        open_ = to_price(prev_close * Decimal(str(1 + rng.uniform(-0.01, 0.01))))
        if listing.suspended:
            last = open_ = prev_close
        conn.execute(
            "INSERT INTO quotes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (listing.code, listing.name, listing.name_en, market_of(listing.code), int(listing.st),
             int(listing.suspended), listing.industry, listing.industry_en, listing.listed_on,
             today.isoformat(), fen(prev_close), fen(open_), fen(last), fen(max(open_, last)),
             fen(min(open_, last)), 0 if listing.suspended else rng.randrange(10_000, 500_000) * 100),
        )  # fmt: skip
        conn.executemany("INSERT INTO quote_history VALUES (?, ?, ?, ?, ?, ?, ?)", bars)


def _seed_customers(conn: sqlite3.Connection, today: date) -> None:
    opened = previous_trading_day(today).isoformat()
    for customer in CUSTOMERS:
        cursor = conn.execute(
            "INSERT INTO customers(name, name_en, id_number, vip_tier, email, fax, mobile) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (customer.name, customer.name_en, customer.id_number, customer.vip_tier, customer.email,
             customer.fax or None, customer.mobile),
        )  # fmt: skip
        customer_id = cursor.lastrowid
        for number in customer.callers:
            conn.execute("INSERT INTO caller_numbers VALUES (?, ?)", (number, customer_id))
        for account in customer.accounts:
            conn.execute(
                "INSERT INTO accounts(account_no, customer_id, is_primary, trading_pin_hash, fund_pin_hash,"
                " trading_locked, locked_at, opened_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (account.account_no, customer_id, int(account.is_primary), hash_pin(account.trading_pin),
                 hash_pin(account.fund_pin), int(account.trading_locked),
                 opened if account.trading_locked else None, "2019-05-06"),
            )  # fmt: skip
            conn.execute(
                "INSERT INTO cash(account_no, available_fen) VALUES (?, ?)",
                (account.account_no, fen(Decimal(account.cash))),
            )
            bank, bank_en, last4, balance = account.bank
            conn.execute(
                "INSERT INTO bank_links(account_no, bank_name, bank_name_en, card_last4, bank_balance_fen)"
                " VALUES (?, ?, ?, ?, ?)",
                (account.account_no, bank, bank_en, last4, fen(Decimal(balance))),
            )
            for code, qty, cost in account.holdings:
                conn.execute(
                    "INSERT INTO positions(account_no, code, qty, bought_on, cost_fen) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (account.account_no, code, qty, opened, fen(Decimal(cost) * qty)),
                )
                conn.execute(
                    "INSERT INTO transactions(account_no, at, kind, code, qty, price_fen, amount_fen, ref)"
                    " VALUES (?, ?, 'buy', ?, ?, ?, ?, 'opening')",
                    (account.account_no, f"{opened}T10:00:00+08:00", code, qty, fen(Decimal(cost)),
                     -fen(Decimal(cost) * qty)),
                )  # fmt: skip


def seed_demo_data(conn: sqlite3.Connection, now: datetime | None = None) -> None:
    """Fill an empty schema (inside the migration's transaction)."""
    today = current_trading_date(now)
    _seed_quotes(conn, today)
    _seed_customers(conn, today)
    conn.execute("INSERT INTO meta VALUES ('created_at', ?), ('matching_seed', ?), ('matching_tick', '0')",
                 (timestamp(now), str(SEED)))  # fmt: skip
