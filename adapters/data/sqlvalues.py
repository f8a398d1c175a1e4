"""Values across the SQL boundary: binding arguments, converting rows, placeholder styles.

Place: used by the SQL backend and its dialects. Arguments are always *bound* as named
parameters (`:name` in the service file), never formatted into the text. Money stays exact:
a `Decimal` argument is bound as its text (SQLite's NUMERIC affinity stores it as a number),
and a float coming back is turned into a `Decimal` through its shortest repr.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

Row = dict[str, object]

_READ_ONLY_START = re.compile(r"^\s*(select|values|explain)\b", re.IGNORECASE)
_WRITE_WORD = re.compile(r"\b(insert|update|delete|replace|create|drop|alter)\b", re.IGNORECASE)
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)

# One alternation, scanned left to right, so placeholders inside quoted text are skipped.
_PG_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|:([A-Za-z_]\w*)|%")


def is_write(statement: str) -> bool:
    """Whether a statement may write (then it runs in an immediate write transaction).

    Errs towards True: only a plain SELECT/VALUES/EXPLAIN, or a WITH that names no writing
    verb, counts as read-only.
    """
    text = _COMMENT.sub(" ", statement)
    if _READ_ONLY_START.match(text):
        return False
    if re.match(r"^\s*with\b", text, re.IGNORECASE):
        return bool(_WRITE_WORD.search(text))
    return True


def bind_value(value: object) -> object:
    """Turn a flow value into something both sqlite3 and psycopg bind without loss."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def bind_args(args: Mapping[str, object]) -> dict[str, object]:
    return {name: bind_value(value) for name, value in args.items()}


def convert_value(value: object) -> object:
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def rows_to_dicts(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> list[Row]:
    return [{name: convert_value(value) for name, value in zip(columns, row, strict=True)} for row in rows]


def to_pyformat(statement: str) -> str:
    """Rewrite `:name` placeholders as psycopg's `%(name)s`; keep `::type` casts and quoted text.

    A literal `%` is doubled, as psycopg requires once any placeholder style is in use.
    """

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if match.group(1):
            return f"%({match.group(1)})s"
        return "%%" if token == "%" else token

    return _PG_TOKENS.sub(replace, statement)


def placeholders(statement: str) -> set[str]:
    """The `:name` parameters a statement uses (outside quoted text)."""
    return {m.group(1) for m in _PG_TOKENS.finditer(_COMMENT.sub(" ", statement)) if m.group(1)}
