"""Chinese readings of numbers: 一千零五, 十万, 一万零一十, 十二点三四, 负三, 六零零五一九.

Used by formatters.py to build the text handed to a Chinese TTS voice. Integers follow the
spoken rules: 万/亿 grouping, one 零 for each gap, a leading 一十 said as 十, and 两 where
Mandarin speakers say it: a lone 2 before 千, 万 or 亿 (两千三百, 两万两千, 两亿, 两千万, but
二十二万), and 两元 for two yuan. Before 百 both are heard; 二百 is the default and
`liang_hundreds=True` says 两百.
"""

from __future__ import annotations

from decimal import Decimal

DIGITS = "零一二三四五六七八九"
YAO_DIGITS = "零幺二三四五六七八九"
LIMIT = 10**16  # readable up to 九千九百九十九万亿…; larger amounts are not spoken as numerals

_UNITS = ((10**8, "亿"), (10**4, "万"), (1000, "千"), (100, "百"), (10, "十"))
_LIANG_UNITS = frozenset({"千", "万", "亿"})


def int_to_zh(n: int, *, liang_hundreds: bool = False) -> str:
    """`n` in Chinese numerals: 10 -> 十, 115 -> 一百一十五, 10010 -> 一万零一十, 2000 -> 两千."""
    if n < 0:
        return "负" + int_to_zh(-n, liang_hundreds=liang_hundreds)
    if n >= LIMIT:
        raise ValueError(f"{n} is too large to read in Chinese numerals")
    text = _read(n, liang_hundreds)
    return text[1:] if text.startswith("一十") else text


def _read(n: int, liang_hundreds: bool) -> str:
    if n < 10:
        return DIGITS[n]
    for unit, name in _UNITS:
        if n >= unit:
            high, rest = divmod(n, unit)
            liang = high == 2 and (name in _LIANG_UNITS or (liang_hundreds and name == "百"))
            text = ("两" if liang else _read(high, liang_hundreds)) + name
            if rest:
                text += ("零" if rest < unit // 10 else "") + _read(rest, liang_hundreds)
            return text
    raise AssertionError("unreachable: n >= 10 always has a unit")


def decimal_to_zh(number: Decimal) -> str:
    """A decimal in Chinese: 12.34 -> 十二点三四, 0.5 -> 零点五, -3 -> 负三 (places as given)."""
    sign = "负" if number < 0 else ""
    integer, _, fraction = format(abs(number), "f").partition(".")
    text = sign + int_to_zh(int(integer))
    return text + ("点" + digits_to_zh(fraction) if fraction else "")


def digits_to_zh(digits: str, *, yao: bool = False) -> str:
    """Digits read one by one: '600519' -> 六零零五一九 (with yao, 1 is read 幺)."""
    table = YAO_DIGITS if yao else DIGITS
    return "".join(table[int(d)] if d.isascii() and d.isdigit() else d for d in digits)


def money_to_zh(amount: Decimal) -> str:
    """An amount in 元角分, rounded to fen by the caller: 1234.50 -> 一千二百三十四元五角."""
    sign = "负" if amount < 0 else ""
    yuan, _, cents = format(abs(amount), ".2f").partition(".")
    whole, jiao, fen = int(yuan), int(cents[0]), int(cents[1])
    spoken = "两" if whole == 2 else int_to_zh(whole)
    text = spoken + "元" if whole or not (jiao or fen) else ""
    if jiao:
        text += DIGITS[jiao] + "角"
    if fen:
        text += ("零" if whole and not jiao else "") + DIGITS[fen] + "分"
    return sign + text
