"""How call-record values are stored as SQLite text, and read back unchanged.

Place: shared by the writers and readers of `records.py`. Times are stored as UTC ISO-8601
with microseconds (so text order is time order); event details as JSON in which a
`Decimal` and a `datetime` keep their type through a small tag, so money read back from a
record is still exact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

_DECIMAL = "$decimal"
_DATETIME = "$datetime"


def encode_time(at: datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.isoformat(timespec="microseconds")


def decode_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def encode_detail(detail: Mapping[str, object]) -> str:
    text = json.dumps(_tag(dict(detail)), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if not _storable(text):  # a lone surrogate: SQLite takes only UTF-8; JSON escapes keep it
        text = json.dumps(_tag(dict(detail)), ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    return text


def storable_text(text: str) -> str:
    """`text` as SQLite can store it: a lone surrogate (from a malformed SIP header, say)
    becomes U+FFFD instead of failing the write."""
    return text if _storable(text) else text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode_detail(text: str) -> dict[str, object]:
    value = json.loads(text, object_hook=_untag)
    assert isinstance(value, dict)
    return value


def _tag(value: object) -> object:
    if isinstance(value, Decimal):
        return {_DECIMAL: str(value)}
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): _tag(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tag(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # anything else is kept as its text rather than lost


def _untag(obj: dict[str, object]) -> object:
    if len(obj) == 1:
        if isinstance(text := obj.get(_DECIMAL), str):
            return Decimal(text)
        if isinstance(text := obj.get(_DATETIME), str):
            return datetime.fromisoformat(text)
    return obj
