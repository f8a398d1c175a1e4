"""What each allow-listed function and formatter takes and gives, for the type checker.

functions.py says how a function runs; this table says, for every parameter, which kinds
of value the implementation accepts (the `need_*` calls there), and what kind comes back.
A test keeps the two tables in step: every function has a signature with its arity.
`usage` gives the call as a flow author writes it, for hints (`substr(s, start[, length])`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ivr.flowlang.expressions.types import ALL, Kind, Kinds

N, T, B, L, R = Kind.NUMBER, Kind.TEXT, Kind.BOOL, Kind.LIST, Kind.RECORD


@dataclass(frozen=True)
class Signature:
    """Parameters as (name, accepted kinds); a variadic function repeats its last one.
    `optional` counts the trailing parameters that may be left out."""

    name: str
    params: tuple[tuple[str, Kinds], ...]
    result: Kinds
    optional: int = 0
    variadic: bool = False

    def accepts(self, position: int) -> Kinds:
        if not self.params:
            return ALL
        index = min(position, len(self.params) - 1) if self.variadic else position
        return self.params[index][1] if index < len(self.params) else ALL

    def parameter(self, position: int) -> str:
        if not self.params:
            return "argument"
        index = min(position, len(self.params) - 1)
        return self.params[index][0]

    def usage(self) -> str:
        names = [name for name, _ in self.params]
        required = len(names) - self.optional
        text = ", ".join(names[:required])
        for name in names[required:]:
            text += f"[, {name}]" if text else f"[{name}]"
        if self.variadic:
            text += ", ..."
        return f"{self.name}({text})"


def _sig(name: str, params: str, result: Kinds, optional: int = 0, variadic: bool = False) -> Signature:
    """`params` as "s:T start:N": names with the kinds they accept (letters above, A for any)."""
    letters = {"N": N, "T": T, "B": B, "L": L, "R": R, "A": ALL}
    parsed = []
    for item in params.split():
        param, kinds = item.split(":")
        accepted = 0
        for letter in kinds:
            accepted |= letters[letter]
        parsed.append((param, accepted))
    return Signature(name, tuple(parsed), result, optional, variadic)


_SIGNATURES = [
    _sig("len", "x:TLR", N),
    _sig("upper", "s:T", T),
    _sig("lower", "s:T", T),
    _sig("trim", "s:T", T),
    _sig("substr", "s:T start:N length:N", T, optional=1),
    _sig("startswith", "s:T prefix:T", B),
    _sig("endswith", "s:T suffix:T", B),
    _sig("contains", "container:TLR item:A", B),
    _sig("round", "x:N places:N", N, optional=1),
    _sig("abs", "x:N", N),
    _sig("min", "values:NTL", N | T, variadic=True),
    _sig("max", "values:NTL", N | T, variadic=True),
    _sig("int", "x:NT", N),
    _sig("number", "s:NT", N),
    _sig("str", "x:A", T),
    _sig("is_digits", "x:A", B),
    _sig("pad", "s:A width:N fill:T", T, optional=1),
    _sig("now", "", T),
    _sig("today", "", T),
    _sig("clock", "", T),
    _sig("weekday", "", N),
    _sig("concat", "values:A", T, optional=1, variadic=True),
    _sig("join", "items:L separator:T", T, optional=1),
    _sig("default", "x:A fallback:A", ALL),
]

SIGNATURES: Mapping[str, Signature] = MappingProxyType({s.name: s for s in _SIGNATURES})

# What a formatter can read: the number formatters also read numeric text (collected digits).
FORMATTER_KINDS: Mapping[str, Kinds] = MappingProxyType(
    {"money": N | T, "number": N | T, "price": N | T, "percent": N | T, "digits": N | T, "date": T, "time": T}
)
