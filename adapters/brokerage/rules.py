"""A-share order rules and fees: boards, daily price limits, ticks, lot sizes.

Pure functions over `Decimal`, so each rule is tested on its own and `trading` only strings
them together. A refusal is a reason code; `REASONS` gives the words callers hear.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

LOT = 100
TICK = Decimal("0.01")
MAX_ORDER_QTY = 1_000_000
STAR_MIN_QTY = 200

COMMISSION_RATE = Decimal("0.00025")
MIN_COMMISSION = Decimal("5.00")
TRANSFER_FEE_RATE = Decimal("0.00001")  # 过户费, both exchanges, both sides
STAMP_DUTY_RATE = Decimal("0.0005")  # 印花税, sells only

# reason code -> (Mandarin, English); the flows speak these after a refusal.
REASONS: dict[str, tuple[str, str]] = {
    "unknown_account": ("资金账号不存在", "the account does not exist"),
    "account_locked": (
        "账户已锁定，请携带身份证件到营业部办理",
        "the account is locked; please visit a branch",
    ),
    "unknown_code": ("证券代码不存在", "there is no security with that code"),
    "market_mismatch": ("证券代码与所选市场不符", "that code is not listed on the market you chose"),
    "suspended": ("该证券今日停牌", "that security is suspended today"),
    "market_closed": (
        "现在不是交易时间，交易时间为交易日上午九点半至十一点半，下午一点至三点",
        "the market is closed; trading hours are 9:30 to 11:30 and 13:00 to 15:00 on trading days",
    ),
    "bad_side": ("买卖方向无效", "the side must be buy or sell"),
    "bad_price": ("委托价格无效", "the price is not valid"),
    "price_tick": ("委托价格最小变动单位为一分", "prices move in steps of one fen, 0.01 yuan"),
    "price_limit": ("委托价格超出涨跌幅限制", "the price is outside today's price limits"),
    "bad_quantity": ("委托数量无效", "the quantity is not valid"),
    "lot_size": ("买入数量必须是一百股的整数倍", "buy orders must be in lots of 100 shares"),
    "star_min_quantity": (
        "科创板单笔申报数量不得少于二百股",
        "STAR market orders must be for at least 200 shares",
    ),
    "odd_lot": ("零股必须一次性卖出", "odd-lot shares must be sold all at once"),
    "max_quantity": ("单笔委托数量超过上限", "the quantity is above the per-order maximum"),
    "insufficient_cash": ("可用资金不足", "there is not enough available cash"),
    "insufficient_shares": ("可卖股份不足", "there are not enough shares available to sell"),
    "t_plus_one": (
        "当日买入的股份下一个交易日才能卖出",
        "shares bought today can be sold from the next trading day",
    ),
    "not_found": ("没有找到该委托", "no order with that number was found"),
    "alert_already_crossed": (
        "该证券的最新价已经达到您设置的提醒价格",
        "the last price is already past that alert price",
    ),
    "too_many_alerts": ("您的到价提醒已达上限", "you have as many price alerts waiting as allowed"),
    "already_filled": ("该委托已全部成交，无法撤单", "that order is already filled and cannot be cancelled"),
    "already_cancelled": ("该委托已撤销", "that order is already cancelled"),
    "already_rejected": ("该委托已被拒绝，无需撤单", "that order was rejected; there is nothing to cancel"),
    "transfer_closed": (
        "现在不在银证转账时间，转账时间为交易日上午九点至下午四点",
        "transfers run from 9:00 to 16:00 on trading days",
    ),
    "bad_amount": ("转账金额无效", "the amount is not valid"),
    "over_single_cap": ("超过单笔转账限额", "the amount is above the per-transfer limit"),
    "over_daily_cap": ("超过当日转账限额", "the amount is above today's transfer limit"),
    "insufficient_bank_balance": ("银行账户余额不足", "the bank account balance is too low"),
    "no_bank_link": ("该账户没有绑定银行卡", "the account has no linked bank card"),
    "card_reported_lost": (
        "银行卡已挂失，暂停银证转账",
        "the bank card is reported lost; transfers are paused",
    ),
    "bad_id_number": ("身份证号码有误，请核对后重新输入", "the ID number is not valid; please check it"),
    "id_mismatch": ("身份证号码与资金账号不符", "the ID number and the account do not match"),
    "identity_locked": (
        "核对失败次数过多，请二十四小时后再试，或转人工服务",
        "too many failed checks; please try again in 24 hours, or ask an agent",
    ),
}

# GB 11643-1999: the 18th character of a resident ID number checks the first 17.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number(keyed: str) -> str | None:
    """A resident ID number as keyed on a phone (an X as `*`), upper-cased, or None when it
    is not 18 characters whose check character (GB 11643-1999) fits the first 17."""
    text = str(keyed).strip().replace("*", "X").upper()
    if len(text) != 18 or not text[:17].isdigit():
        return None
    total = sum(int(digit) * weight for digit, weight in zip(text[:17], _ID_WEIGHTS, strict=True))
    return text if _ID_CHECK[total % 11] == text[17] else None


def reason_texts(code: str) -> dict[str, str]:
    """`{reason, reason_zh, reason_en}` for an answer; empty strings for no reason."""
    zh, en = REASONS.get(code, ("", ""))
    return {"reason": code, "reason_zh": zh, "reason_en": en}


def board_of(code: str) -> str:
    """ "chinext" (300xxx/301xxx), "star" (688xxx/689xxx) or "main"."""
    if code.startswith(("300", "301")):
        return "chinext"
    if code.startswith(("688", "689")):
        return "star"
    return "main"


def market_of(code: str) -> str:
    """ "SH" for Shanghai codes (6xxxxx), "SZ" for Shenzhen (0xxxxx, 3xxxxx)."""
    return "SH" if code.startswith("6") else "SZ"


def limit_rate(code: str, st: bool) -> Decimal:
    """Daily limit: ±20% on ChiNext and STAR (ST or not), ±5% for ST on the main board,
    ±10% otherwise."""
    if board_of(code) in ("chinext", "star"):
        return Decimal("0.20")
    return Decimal("0.05") if st else Decimal("0.10")


def to_price(value: Decimal) -> Decimal:
    return value.quantize(TICK, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PriceLimits:
    down: Decimal
    up: Decimal


def price_limits(prev_close: Decimal, code: str, st: bool) -> PriceLimits:
    rate = limit_rate(code, st)
    return PriceLimits(down=to_price(prev_close * (1 - rate)), up=to_price(prev_close * (1 + rate)))


def parse_decimal(value: object) -> Decimal | None:
    """A money or price value from a flow (string such as "12.35", int or Decimal)."""
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def parse_quantity(value: object) -> int | None:
    number = parse_decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def check_price(price: Decimal, limits: PriceLimits) -> str | None:
    if price <= 0:
        return "bad_price"
    if price != price.quantize(TICK):
        return "price_tick"
    if not limits.down <= price <= limits.up:
        return "price_limit"
    return None


def check_buy_quantity(code: str, qty: int) -> str | None:
    if qty <= 0:
        return "bad_quantity"
    if qty > MAX_ORDER_QTY:
        return "max_quantity"
    if board_of(code) == "star":
        # STAR: at least 200 shares, then any whole number of shares.
        return "star_min_quantity" if qty < STAR_MIN_QTY else None
    return "lot_size" if qty % LOT else None


def check_sell_quantity(code: str, qty: int, sellable: int) -> str | None:
    """Sells go in lots too, but an odd-lot remainder may (and must) be sold in one go."""
    if qty <= 0:
        return "bad_quantity"
    if qty > MAX_ORDER_QTY:
        return "max_quantity"
    if qty > sellable:
        return "insufficient_shares"
    if board_of(code) == "star":
        return "star_min_quantity" if qty < STAR_MIN_QTY and qty != sellable else None
    if qty % LOT and qty % LOT != sellable % LOT:
        return "odd_lot"
    return None


def commission(amount: Decimal) -> Decimal:
    return max(to_price(amount * COMMISSION_RATE), MIN_COMMISSION)


def transfer_fee(amount: Decimal) -> Decimal:
    return to_price(amount * TRANSFER_FEE_RATE)


def stamp_duty(amount: Decimal) -> Decimal:
    return to_price(amount * STAMP_DUTY_RATE)


def buy_cost(qty: int, price: Decimal) -> Decimal:
    """Cash a buy needs: the amount plus commission and transfer fee."""
    amount = price * qty
    return amount + commission(amount) + transfer_fee(amount)


def sell_fees(amount: Decimal) -> Decimal:
    return commission(amount) + transfer_fee(amount) + stamp_duty(amount)
