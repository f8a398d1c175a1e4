"""Static types of expression values: what the type checker (typecheck.py) reasons with.

A `Type` is the set of kinds a value may have at run time (null, true/false, number, text,
list, record), plus what is known of its shape: the item type of a list, the fields of a
record. Sets keep the checker sound in the language's dynamic corners: a record field of
unknown shape is `UNKNOWN` (every kind), never an error. A declared variable may also be
null (not yet set), so checks judge the *definite* kinds (null aside) and report only what
fails for every one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType


class Kind:
    """Bits of a set of kinds (plain ints: the checker combines them on every node)."""

    NULL = 1
    BOOL = 2
    NUMBER = 4
    TEXT = 8
    LIST = 16
    RECORD = 32


Kinds = int
ALL: Kinds = Kind.NULL | Kind.BOOL | Kind.NUMBER | Kind.TEXT | Kind.LIST | Kind.RECORD
_NOT_NULL = ALL & ~Kind.NULL
_WORDS = {
    Kind.NULL: "null",
    Kind.BOOL: "true/false",
    Kind.NUMBER: "a number",
    Kind.TEXT: "text",
    Kind.LIST: "a list",
    Kind.RECORD: "a record",
}
_ORDER = (Kind.NUMBER, Kind.TEXT, Kind.BOOL, Kind.LIST, Kind.RECORD, Kind.NULL)


@dataclass(frozen=True, slots=True)
class Type:
    """The kinds a value may have. `fields` is the complete set of fields of a record when
    known (`call`), `item` the type of a list's items when known."""

    kinds: Kinds
    fields: Mapping[str, Type] | None = None
    item: Type | None = None
    # The kinds that matter for a verdict: null aside, unless the value is only null.
    definite: Kinds = field(init=False, repr=False, compare=False)
    # Every kind is possible (a field of a record of unknown shape, an `any` variable).
    is_unknown: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "definite", self.kinds & _NOT_NULL or self.kinds)
        object.__setattr__(self, "is_unknown", self.kinds & _NOT_NULL == _NOT_NULL)

    def allows(self, kinds: Kinds) -> bool:
        return bool(self.definite & kinds)

    def words(self) -> str:
        """'a number', 'text or a number', for messages."""
        return describe(self.definite)


def describe(kinds: Kinds) -> str:
    names = [_WORDS[k] for k in _ORDER if kinds & k]
    if len(names) >= 5:
        return "any value"
    if len(names) > 2:
        return ", ".join(names[:-1]) + " or " + names[-1]
    return " or ".join(names) if names else "nothing"


def of_kinds(kinds: Kinds) -> Type:
    """The plain type of `kinds` (one shared instance per set of kinds)."""
    found = _PLAIN.get(kinds)
    if found is None:
        found = _PLAIN[kinds] = Type(kinds)
    return found


_PLAIN: dict[Kinds, Type] = {}


UNKNOWN = of_kinds(ALL)
NULL = of_kinds(Kind.NULL)
BOOL = of_kinds(Kind.BOOL)
NUMBER = of_kinds(Kind.NUMBER)
TEXT = of_kinds(Kind.TEXT)
LIST = of_kinds(Kind.LIST)
RECORD = of_kinds(Kind.RECORD)

DECLARED: Mapping[str, Kinds] = MappingProxyType(
    {
        "string": Kind.TEXT,
        "number": Kind.NUMBER,
        "boolean": Kind.BOOL,
        "list": Kind.LIST,
        "map": Kind.RECORD,
        "any": ALL,
    }
)
DECLARED_WORDS = MappingProxyType({name: describe(kind) for name, kind in DECLARED.items()})


def declared(type_name: str) -> Type:
    """The type of a variable declared `type: <name>`: that kind, or null while not set."""
    return of_kinds(DECLARED.get(type_name, ALL) | Kind.NULL)


def union(*types: Type) -> Type:
    kinds = 0
    for t in types:
        kinds |= t.kinds
    if types and types[0].fields is not None and all(t.fields is types[0].fields for t in types):
        return Type(kinds, types[0].fields)
    return of_kinds(kinds)


def of_value(value: object) -> Type:
    """The type of a literal value (a YAML `initial:` or an expression literal)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | Decimal | float):
        return NUMBER
    if isinstance(value, str):
        return TEXT
    if isinstance(value, list | tuple):
        return LIST
    if isinstance(value, Mapping):
        return RECORD
    return UNKNOWN


def record(fields: Mapping[str, Type], *, closed: bool) -> Type:
    """A record type; a closed record's `fields` are all it has (reading another is an error)."""
    return Type(Kind.RECORD, MappingProxyType(dict(fields)) if closed else None)


CALL = record(
    {
        "caller": TEXT,
        "dialed": TEXT,
        "id": TEXT,
        "language": TEXT,
        "direction": TEXT,  # "inbound" or "outbound"
        "channel": TEXT,  # "phone", "outbound", "chat" or "sms" (docs/channels.md)
        "answered_by": TEXT,  # "person" or "machine" (an outbound call's answering-machine detection)
    },
    closed=True,
)
CAMPAIGN = record({"name": TEXT, "run": TEXT, "attempt": NUMBER}, closed=True)
"""What an outbound flow reads as `campaign`: the definition's name, the run, the attempt (1, 2...)."""
