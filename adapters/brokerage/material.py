"""Documents the back office sends: the monthly statement's layout and the consulting
material (trading rules, a listed company's profile), as the mappings the outbox renders
to PDF (see `ivr.adapters.messaging.documents`), with the caller's contact details."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

from ivr.adapters.brokerage.db import connect, timestamp
from ivr.adapters.brokerage.market_data import company_info, get_quote

RULES: tuple[tuple[str, str], ...] = (
    (
        "交易时间与交收 Trading hours and settlement",
        "沪深交易所连续竞价时间为交易日 9:30-11:30、13:00-15:00。A股实行T+1交收，"
        "当日买入的股票下一个交易日才能卖出。买入以100股为一手，科创板单笔申报不少于200股。\n\n"
        "Continuous trading runs 9:30-11:30 and 13:00-15:00 on trading days. A-shares settle T+1. "
        "Buys are in lots of 100 shares; STAR Market orders are for at least 200.",
    ),
    (
        "涨跌幅限制 Price limits",
        "主板股票涨跌幅限制为前收盘价的10%，主板ST股票为5%，创业板和科创板为20%。最小变动单位0.01元。\n\n"
        "Main board 10% (ST 5%), ChiNext and STAR Market 20% of the previous close; tick 0.01 yuan.",
    ),
    (
        "交易费用 Fees",
        "佣金为成交金额的0.025%，最低5元；卖出另收0.05%印花税；过户费为成交金额的0.001%。\n\n"
        "Commission 0.025% (at least 5 yuan); stamp duty 0.05% on sells; transfer fee 0.001%.",
    ),
    (
        "银证转账 Bank transfers",
        "银证转账时间为交易日9:00-16:00，单笔限额50万元，每日累计限额100万元，须验证资金密码。\n\n"
        "Transfers run 9:00-16:00 on trading days, up to 500,000 yuan each and 1,000,000 yuan a day, "
        "with the fund PIN.",
    ),
)
SMS_RULES = (
    "【95500】交易时间9:30-11:30、13:00-15:00；T+1交收；主板涨跌幅10%；佣金万分之2.5最低5元。详询95500。"
)
CASH = ["项目 Item", "金额 Amount"]
POSITIONS = ["代码 Code", "名称 Name", "数量 Qty", "可卖 Sellable", "最新价 Last", "市值 Value"]
MOVES = ["日期 Date", "摘要 Kind", "代码 Code", "名称 Name", "数量 Qty", "价格 Price", "金额 Amount"]


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def statement_document(
    account: str,
    period: str,
    number: str,
    customer: sqlite3.Row,
    balance: dict[str, Any],
    held: dict[str, Any],
    moves: dict[str, Any],
    now: datetime | None,
) -> dict[str, Any]:
    """The statement as a document: cash, positions and recent transactions in tables."""
    cash = [
        ["可用资金 Available", money(balance["available"])],
        ["冻结资金 Frozen", money(balance["frozen"])],
        ["证券市值 Market value", money(balance["market_value"])],
        ["总资产 Total assets", money(balance["total_assets"])],
    ]
    positions = [
        [i["code"], i["name"], i["qty"], i["sellable"], str(i["last"]), money(i["market_value"])]
        for i in held["items"]
    ]
    transactions = [
        [m["date"], f"{m['kind_zh']} {m['kind_en']}", m["code"], m["name"], m["qty"] or "",
         str(m["price"]) if m["qty"] else "", money(m["amount"])]
        for m in moves["items"]
    ]  # fmt: skip
    return {
        "title": f"对账单 Statement {period}",
        "subtitle": f"账户 Account {account}  {customer['name']} {customer['name_en']}",
        "body": f"尊敬的客户：以下是您的账户对账单（{period}）。\n\nDear customer, here is your statement.",
        "sections": [
            _section("资金 Cash (CNY)", CASH, cash, ""),
            _section("持仓 Positions", POSITIONS, positions, "无持仓 No positions."),
            _section("最近交易 Recent transactions", MOVES, transactions, "无交易 No transactions."),
        ],
        "footer": f"对账单编号 Statement no. {number}  ·  {timestamp(now)[:19]}  ·  95500 证券客户服务中心",
        "filename": f"statement-{number}.pdf",
    }


def _section(heading: str, columns: list[str], rows: list[list[Any]], empty: str) -> dict[str, Any]:
    if not rows:
        return {"heading": heading, "body": empty}
    return {"heading": heading, "table": {"columns": columns, "rows": rows}}


def prepare_material(topic: str, code: str = "", caller: str = "") -> dict[str, Any]:
    """Consulting material to send: `topic` "rules" (trading rules and fees) or "company"
    (the profile of `code`). `found`, `title`, `document`, `sms_text`, and the contact
    details of the customer calling from `caller`: `email`, `has_email`, `mobile`,
    `has_mobile` (the caller's own number when it is a mobile and no customer is known)."""
    contact = _contact(caller)
    if topic == "company":
        info = company_info(code)
        if not info["found"]:
            return {"found": False, "title": "", "document": {}, "sms_text": "", **contact}
        title = f"公司简介 {info['name']} {info['name_en']} ({info['code']})"
        document = _company_document(title, info)
        sms = f"【95500】{info['name']}({info['code']})：{info['industry']}，上市日期{info['listed_on']}。"
    else:
        title = "交易规则与费用 Trading rules and fees"
        document = {"title": title, "sections": [{"heading": h, "body": b} for h, b in RULES],
                    "footer": "95500 证券客户服务中心 · 以交易所最新规则为准 Exchange rules prevail.",
                    "filename": "trading-rules.pdf"}  # fmt: skip
        sms = SMS_RULES
    return {"found": True, "title": title, "document": document, "sms_text": sms, **contact}


def _company_document(title: str, info: dict[str, Any]) -> dict[str, Any]:
    quote = get_quote(info["code"])
    facts = [
        ["代码 Code", info["code"]],
        ["名称 Name", f"{info['name']} {info['name_en']}"],
        ["板块 Board", f"{quote['board_zh']} {quote['board_en']}"],
        ["行业 Industry", f"{info['industry']} {info['industry_en']}"],
        ["上市日期 Listed", info["listed_on"]],
        ["最新价 Last", str(quote["last"])],
        ["涨跌幅 Change", f"{quote['change_pct']}%"],
    ]
    return {
        "title": title,
        "body": f"{info['profile_zh']}\n\n{info['profile_en']}",
        "sections": [_section("基本信息 Facts", ["项目 Item", "内容 Value"], facts, "")],
        "footer": "行情仅供参考 Prices are for reference only. 95500 证券客户服务中心",
        "filename": f"company-{info['code']}.pdf",
    }


def _contact(caller: str) -> dict[str, Any]:
    with connect() as conn:
        row = conn.execute(
            "SELECT c.email, c.mobile FROM caller_numbers n JOIN customers c ON c.id = n.customer_id "
            "WHERE n.number = ?",
            (str(caller),),
        ).fetchone()
    email = (row["email"] or "") if row else ""
    mobile = (row["mobile"] or "") if row else (caller if _is_mobile(caller) else "")
    return {"email": email, "has_email": bool(email), "mobile": mobile, "has_mobile": bool(mobile)}


def _is_mobile(number: str) -> bool:
    return len(number) == 11 and number.startswith("1") and number.isdigit()
