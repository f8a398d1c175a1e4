"""Where fuzz inputs get their choices: hypothesis in the test suite, a seeded PRNG in the
long campaign (`scripts/fuzz.py`).

Every input generator in `fuzz_inputs.py` is written once against `Draw`. In CI a
`HypothesisDraw` wraps `st.data()`, so hypothesis explores and shrinks a failure to a small
input; the campaign's `RandomDraw` makes the same choices from `random.Random(seed)`, about
ten times faster than driving hypothesis per case, and case N of a seed is always the same
input, so any failure replays from (target, seed, case).
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")

# values that break naive code: edges of ranges, odd Unicode, YAML and JSON specials
_ODD_TEXT = [
    "",
    " ",
    "\x00",
    "\t",
    "\r\n",
    "\u2028",
    "\ufeff",
    "\ud7ff",
    "\U0010ffff",
    "é",
    "余额",
    "１２３",
    "٣",
    "null",
    "~",
    "no",
    "0x1F",
    "1e999999",
    "-0",
    "NaN",
    "Infinity",
    "9" * 60,
    "x" * 300,
]
_ODD_DECIMALS = [
    "0",
    "-0",
    "1",
    "-1",
    "0.5",
    "12.50",
    "1E+999999",
    "1E-999999",
    "9" * 40,
    "1E+28",
    "123456789012345678901234567890.123",
    "0.0000001",
]


class Draw(Protocol):
    """The choices an input generator may make."""

    def integer(self, low: int, high: int) -> int: ...
    def boolean(self, chance: float = 0.5) -> bool: ...
    def choice(self, options: Sequence[T]) -> T: ...
    def text(self, max_size: int = 20) -> str: ...
    def binary(self, max_size: int = 20) -> bytes: ...
    def decimal(self) -> Decimal: ...


class RandomDraw:
    """Choices from a seeded PRNG (the campaign)."""

    def __init__(self, seed: int | str) -> None:
        self.random = random.Random(seed)

    def integer(self, low: int, high: int) -> int:
        # small values most of the time, the whole range sometimes
        if high - low > 16 and self.random.random() < 0.8:
            return self.random.randint(low, min(high, low + 16))
        return self.random.randint(low, high)

    def boolean(self, chance: float = 0.5) -> bool:
        return self.random.random() < chance

    def choice(self, options: Sequence[T]) -> T:
        return options[self.random.randrange(len(options))]

    def text(self, max_size: int = 20) -> str:
        roll = self.random.random()
        if roll < 0.15:
            return self.random.choice(_ODD_TEXT)[: max(max_size, 1)]
        size = self.integer(0, max_size)
        if roll < 0.7:
            return "".join(self.random.choice(string.printable) for _ in range(size))
        return "".join(chr(self._codepoint()) for _ in range(size))

    def _codepoint(self) -> int:
        while True:
            point = self.random.choice([self.random.randint(0, 0x7F), self.random.randint(0, 0x10FFFF)])
            if not 0xD800 <= point <= 0xDFFF:
                return point

    def binary(self, max_size: int = 20) -> bytes:
        return self.random.randbytes(self.integer(0, max_size))

    def decimal(self) -> Decimal:
        if self.random.random() < 0.3:
            return Decimal(self.random.choice(_ODD_DECIMALS))
        places = self.random.randint(0, 4)
        return Decimal(self.random.randint(-(10**8), 10**8)).scaleb(-places)


class HypothesisDraw:
    """Choices from hypothesis (`st.data()`), so failures shrink."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high))

    def boolean(self, chance: float = 0.5) -> bool:
        return self.data.draw(st.booleans())

    def choice(self, options: Sequence[T]) -> T:
        return self.data.draw(st.sampled_from(options))

    def text(self, max_size: int = 20) -> str:
        return self.data.draw(st.one_of(st.sampled_from(_ODD_TEXT), st.text(max_size=max_size)))

    def binary(self, max_size: int = 20) -> bytes:
        return self.data.draw(st.binary(max_size=max_size))

    def decimal(self) -> Decimal:
        odd = st.sampled_from(_ODD_DECIMALS).map(Decimal)
        return self.data.draw(st.one_of(odd, st.decimals(allow_nan=False, allow_infinity=False)))
