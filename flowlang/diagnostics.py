"""Diagnostics: every problem flowlang finds, positioned and ranked like a compiler's.

Each stage (YAML loading, schema, expressions, semantic checks) yields `Diagnostic`s; nothing
raises for a user mistake. `render` prints one as `file:line:col: error[FL301]: message`,
the source line, a caret and a hint; `to_json` gives the same for editors and the API.
"""

from __future__ import annotations

import difflib
import enum
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """How bad a diagnostic is; errors block a flow from running, the rest do not."""

    ERROR = 3
    WARNING = 2
    INFO = 1

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, order=True)
class Span:
    """A region of a source file. Lines and columns count from 1; `end_*` is exclusive."""

    file: str
    line: int
    col: int
    end_line: int = 0
    end_col: int = 0

    def __post_init__(self) -> None:
        if self.end_line == 0:
            object.__setattr__(self, "end_line", self.line)
        if self.end_col == 0:
            object.__setattr__(self, "end_col", self.col + 1)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def shifted(self, text_before: str, length: int) -> Span:
        """The span of a piece that starts after `text_before` inside this span's text."""
        lines = text_before.split("\n")
        if len(lines) == 1:
            line, col = self.line, self.col + len(text_before)
        else:
            line, col = self.line + len(lines) - 1, len(lines[-1]) + 1
        return Span(self.file, line, col, line, col + max(length, 1))


UNKNOWN_SPAN = Span("<unknown>", 1, 1)


@dataclass(frozen=True)
class Diagnostic:
    """One problem: a stable code, a severity, where it is and how to fix it."""

    code: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None
    yaml_path: tuple[str | int, ...] = field(default=())
    node_id: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[int, int, str, int, int, str]:
        """Errors first, and among them a file that could not be read (FL00x: the rest of the
        project is checked without it); then by position, so the first problem shown is the
        first to fix."""
        unreadable = 0 if self.code.startswith("FL00") and self.is_error else 1
        return (-int(self.severity), unreadable, self.span.file, self.span.line, self.span.col, self.code)

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.label,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.col,
            "end_line": self.span.end_line,
            "end_column": self.span.end_col,
            "hint": self.hint,
            "path": "/".join(str(p) for p in self.yaml_path),
            "node": self.node_id,
        }


def rank(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """All diagnostics, duplicates removed, errors first (unreadable files first of all),
    then in source order. Echoes of one mistake are removed before (`followons`)."""
    unique = {(d.code, d.span, d.message): d for d in diagnostics}
    return sorted(unique.values(), key=Diagnostic.sort_key)


def render(diagnostic: Diagnostic, sources: Mapping[str, str] | None = None) -> str:
    """Compiler-style text: header, the source line with a caret under the span, the hint."""
    d = diagnostic
    out = [f"{d.span}: {d.severity.label}[{d.code}]: {d.message}"]
    text = (sources or {}).get(d.span.file)
    if text is not None:
        lines = _lines(text)
        if 1 <= d.span.line <= len(lines):
            source_line = lines[d.span.line - 1]
            gutter = f"{d.span.line:>4} | "
            width = 1
            if d.span.end_line == d.span.line:
                width = max(1, d.span.end_col - d.span.col)
            width = min(width, max(1, len(source_line) - d.span.col + 1))
            shown, before, width = _excerpt(source_line, d.span.col, width)
            out.append(gutter + shown)
            out.append(" " * (len(gutter) + _display_width(shown[:before])) + "^" * width)
    if d.hint:
        out.append(f"  hint: {d.hint}")
    return "\n".join(out)


# A file with thousands of problems renders each against the same text: split it once
# (str caches its hash, so finding it again is cheap), and show a long line only around the
# span, so neither the time nor the output grows with the square of the file's size.
MAX_SHOWN = 160


@functools.lru_cache(maxsize=8)
def _lines(text: str) -> tuple[str, ...]:
    return tuple(text.splitlines())


def _excerpt(line: str, col: int, width: int) -> tuple[str, int, int]:
    """The part of `line` to show, how many of its characters come before the span, and
    the caret's width: the whole line, or `MAX_SHOWN` characters around the span with '…'."""
    if len(line) <= MAX_SHOWN:
        return line, col - 1, width
    start = max(0, min(col - 1 - MAX_SHOWN // 4, len(line) - MAX_SHOWN))
    end = start + MAX_SHOWN
    shown = ("…" if start else "") + line[start:end] + ("…" if end < len(line) else "")
    before = (1 if start else 0) + col - 1 - start
    return shown, before, max(1, min(width, end - (col - 1)))


def _display_width(text: str) -> int:
    """Terminal columns of text: CJK characters take two, so carets line up under Chinese."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean 'x'?" hint for a misspelt name, or None when nothing is close. A name
    that differs only in case (`BLIND`, `Main_Menu`) finds its match first."""
    known = list(candidates)
    same = [c for c in known if c.lower() == name.lower()]
    matches = same or difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def count_errors(diagnostics: Sequence[Diagnostic]) -> int:
    return sum(1 for d in diagnostics if d.is_error)
