"""The document a `send` node hands to an e-mail or fax channel, as a checked value.

Place: pure, used by `channels` (to refuse a document that cannot be rendered before the
caller is told "will be sent") and by `pdf` (to render it). A flow's `document:` expression
yields text or a mapping; a back-office operation usually builds the mapping:

    {"title": "对账单 Statement 2026-11",          # required for a mapping
     "subtitle": "账户 Account 31000002",           # optional
     "body": "paragraphs, separated by blank lines",  # optional
     "sections": [                                   # optional, in order
        {"heading": "交易明细 Transactions",
         "body": "text",
         "table": {"columns": ["日期 Date", "金额 Amount"], "rows": [["2026-11-02", "-1,500.00"]]}}],
     "footer": "text at the end", "filename": "statement-80000001.pdf"}

Plain text becomes a document whose body is that text. Values in tables may be numbers;
they are kept as their text. Limits keep one message's PDF small (`MAX_CELLS`, `MAX_TEXT`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ivr.adapters.errors import AdapterError

MAX_TEXT = 200_000  # characters in one document
MAX_CELLS = 20_000
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_KEYS = frozenset({"title", "subtitle", "body", "sections", "footer", "filename"})
_SECTION_KEYS = frozenset({"heading", "body", "table"})


class DocumentError(AdapterError, ValueError):
    """The document cannot be rendered; the message says which part and why."""


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Section:
    heading: str | None
    paragraphs: tuple[str, ...]
    table: Table | None


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str | None
    paragraphs: tuple[str, ...]
    sections: tuple[Section, ...]
    footer: str | None
    filename: str

    def text(self) -> str:
        """Every piece of text in reading order (for size limits and plain-text fallbacks)."""
        parts = [self.title, self.subtitle or "", *self.paragraphs]
        for section in self.sections:
            parts += [section.heading or "", *section.paragraphs]
            if section.table:
                parts += [" ".join(section.table.columns)]
                parts += [" ".join(row) for row in section.table.rows]
        return "\n".join(p for p in [*parts, self.footer or ""] if p)


def parse_document(value: object, *, default_title: str = "Document") -> Document:
    """The document `value` describes, or `DocumentError`."""
    if isinstance(value, str):
        document = Document(default_title, None, _paragraphs(value), (), None, _filename(None, default_title))
    elif isinstance(value, Mapping):
        document = _from_mapping(value)
    else:
        raise DocumentError(f"a document is text or a mapping with a title, not {type(value).__name__}")
    if len(document.text()) > MAX_TEXT:
        raise DocumentError(f"the document has more than {MAX_TEXT:,} characters")
    return document


def plain(value: object) -> object:
    """`value` as JSON-ready data (numbers as text), to store a document in the outbox."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | bool):
        return value
    return _cell(value, "a value")


def _from_mapping(data: Mapping[object, object]) -> Document:
    if unknown := sorted(str(k) for k in data if k not in _KEYS):
        raise DocumentError(f"unknown document field(s) {', '.join(unknown)}; use {', '.join(sorted(_KEYS))}")
    title = _text(data.get("title"), "the title")
    if not title:
        raise DocumentError("a document needs a `title`")
    sections = data.get("sections", [])
    if not isinstance(sections, Sequence) or isinstance(sections, str):
        raise DocumentError("`sections` is a list of {heading, body, table}")
    parsed = tuple(_section(item, i) for i, item in enumerate(sections))
    if sum(len(s.table.rows) * len(s.table.columns) for s in parsed if s.table) > MAX_CELLS:
        raise DocumentError(f"the document's tables have more than {MAX_CELLS:,} cells")
    return Document(
        title,
        _text(data.get("subtitle"), "the subtitle") or None,
        _paragraphs(_text(data.get("body"), "the body")),
        parsed,
        _text(data.get("footer"), "the footer") or None,
        _filename(data.get("filename"), title),
    )


def _section(item: object, index: int) -> Section:
    where = f"section {index + 1}"
    if not isinstance(item, Mapping):
        raise DocumentError(f"{where} is not a mapping of heading, body and table")
    if unknown := sorted(str(k) for k in item if k not in _SECTION_KEYS):
        raise DocumentError(f"{where} has unknown field(s) {', '.join(unknown)}")
    table = item.get("table")
    return Section(
        _text(item.get("heading"), f"the heading of {where}") or None,
        _paragraphs(_text(item.get("body"), f"the body of {where}")),
        _table(table, where) if table is not None else None,
    )


def _table(value: object, where: str) -> Table:
    if not isinstance(value, Mapping):
        raise DocumentError(f"the table of {where} needs `columns` and `rows`")
    columns = value.get("columns")
    rows = value.get("rows", [])
    if not isinstance(columns, Sequence) or isinstance(columns, str) or not columns:
        raise DocumentError(f"the table of {where} needs `columns`: a list of headings")
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        raise DocumentError(f"the rows of the table of {where} are a list of lists")
    names = tuple(_cell(c, f"a column of {where}") for c in columns)
    cells: list[tuple[str, ...]] = []
    for n, row in enumerate(rows, 1):
        if not isinstance(row, Sequence) or isinstance(row, str) or len(row) != len(names):
            raise DocumentError(f"row {n} of the table of {where} does not have {len(names)} cells")
        cells.append(tuple(_cell(c, f"row {n} of {where}") for c in row))
    return Table(names, tuple(cells))


def _text(value: object, what: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    raise DocumentError(f"{what} must be text, not {type(value).__name__}")


def _cell(value: object, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是 yes" if value else "否 no"
    if isinstance(value, str | int | Decimal | float):
        return str(value)
    raise DocumentError(f"{where}: a cell must be text or a number, not {type(value).__name__}")


def _paragraphs(text: str) -> tuple[str, ...]:
    blocks = re.split(r"\n\s*\n", text.strip()) if text.strip() else []
    return tuple(block.strip() for block in blocks)


def _filename(value: object, title: str) -> str:
    stem = str(value) if isinstance(value, str) and value.strip() else title
    stem = _FILENAME_UNSAFE.sub("-", stem.removesuffix(".pdf")).strip("-.") or "document"
    return stem[:80] + ".pdf"
