"""YAML mistakes explained in the language's terms: the error half of stage 1 (yamlsource).

PyYAML words its errors for YAML experts ("mapping values are not allowed in this context",
"while scanning an alias"), and often a line after the real mistake. Flow authors make a
small set of mistakes again and again: a tab, an unclosed quote, a bare `*` key, a
full-width colon typed with a Chinese input method, a missing space after `:`, a `: ` or a
`{` inside unquoted text, a line indented one step too far. `explain_syntax_error`
recognises them from the error and the text, and says what to type, with the caret on the
character to change. `explain_tag` and `split_run_together_key` catch mistakes YAML
accepts but reads differently from what the author meant (`if: !ok` is a tag, and
`{zh:你好}` a key with no value). Anything not recognised keeps PyYAML's words with a
generic hint, so no error is ever lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from ivr.flowlang.diagnostics import Diagnostic, Severity, Span

SYNTAX = "FL001"
TAG = "FL010"
FULL_WIDTH_COLON = "FL011"
NO_SPACE_AFTER_COLON = "FL012"

GENERIC_HINT = "check indentation (spaces only, no tabs) and that every ':' in text is quoted"

# `key：` typed with a Chinese input method, at the start of a line (after an optional "- ").
_FULL_WIDTH_KEY = re.compile(r"^(\s*(?:-\s+)?)([A-Za-z_][\w-]*)\s*(：)")
# `key:value` with no space: the key is a name, the value does not start with a space or `//`.
_RUN_TOGETHER = re.compile(r"^(\s*(?:-\s+)?)([A-Za-z_][\w-]*)(:)(?!//)(\S)")
_KEY_LINE = re.compile(r"^(\s*)(?:-\s+)?[^\s#:'\"][^:#]*?:(\s|$)")


@dataclass(frozen=True)
class _Failure:
    """One PyYAML error seen with the text: where it stopped and what it was doing."""

    problem: str
    context: str
    line: int  # 0-based, where PyYAML stopped
    col: int
    context_line: int | None
    context_col: int | None
    lines: list[str]
    file: str

    def char(self, line: int, col: int) -> str:
        if 0 <= line < len(self.lines) and 0 <= col < len(self.lines[line]):
            return self.lines[line][col]
        return ""

    @property
    def at(self) -> str:
        return self.char(self.line, self.col)

    def span(self, line: int, col: int, length: int = 1) -> Span:
        return Span(self.file, line + 1, col + 1, line + 1, col + 1 + max(length, 1))

    def previous_lines(self, line: int, count: int = 3) -> list[int]:
        """Up to `count` lines before `line` that hold something (not blank, not a comment)."""
        found: list[int] = []
        index = line - 1
        while index >= 0 and len(found) < count:
            stripped = self.lines[index].strip()
            if stripped and not stripped.startswith("#"):
                found.append(index)
            index -= 1
        return found


def _error(code: str, message: str, span: Span, hint: str) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, span, hint)


def explain_syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> Diagnostic:
    """The most helpful diagnostic for a YAML syntax error in `text`."""
    mark = exc.problem_mark or exc.context_mark
    context = exc.context_mark
    failure = _Failure(
        problem=exc.problem or "",
        context=exc.context or "",
        line=mark.line if mark else 0,
        col=mark.column if mark else 0,
        context_line=context.line if context else None,
        context_col=context.column if context else None,
        lines=text.splitlines(),
        file=file,
    )
    for recognise in _RECOGNISERS:
        found = recognise(failure)
        if found is not None:
            return found
    problem = exc.problem or "the YAML is not well formed"
    where = f" ({exc.context})" if exc.context else ""
    span = Span(file, failure.line + 1, failure.col + 1)
    return _error(SYNTAX, f"YAML syntax error: {problem}{where}", span, GENERIC_HINT)


def _tab(f: _Failure) -> Diagnostic | None:
    if "tab" not in f.problem and f.at != "\t":
        return None
    line = f.lines[f.line] if f.line < len(f.lines) else ""
    col = line.find("\t")
    if col < 0:
        return None
    return _error(
        SYNTAX,
        "a tab character: YAML indents with spaces only",
        f.span(f.line, col),
        "replace the tab with spaces (most editors: convert indentation to spaces)",
    )


def _unclosed_quote(f: _Failure) -> Diagnostic | None:
    if "quoted scalar" not in f.context or f.context_line is None or f.context_col is None:
        return None
    quote = f.char(f.context_line, f.context_col) or '"'
    other = "'" if quote == '"' else '"'
    return _error(
        SYNTAX,
        f"the quote {quote} opened here is never closed",
        f.span(f.context_line, f.context_col),
        f"end the text with {quote} on the same line; to write a {quote} inside the text, "
        f"quote it with {other} instead",
    )


_VALUE_QUOTE = re.compile(r"(?:^\s*(?:-\s+)?|[:{\[,]\s*)(['\"])")


def _open_quote(line: str) -> tuple[int, str] | None:
    """The offset of a quote that opens a value on `line` and is not closed on it."""
    pos = 0
    while True:
        match = _VALUE_QUOTE.search(line, pos)
        if match is None:
            return None
        quote, start = match.group(1), match.start(1)
        end = start + 1
        while True:
            end = line.find(quote, end)
            if end < 0:
                return start, quote
            if quote == "'" and line[end + 1 : end + 2] == "'":
                end += 2  # '' is a quote inside '...'
                continue
            if quote == '"' and line[end - 1] == "\\":
                end += 1
                continue
            break
        pos = end + 1


def _quote_runs_on(f: _Failure) -> Diagnostic | None:
    """A quote left open on an earlier line runs on to the next quote, lines later, and the
    error shows up there: point at the quote that was never closed on its own line."""
    for index in f.previous_lines(f.line, 8):
        found = _open_quote(f.lines[index])
        if found is None:
            continue
        col, quote = found
        closes_at = next((n for n in range(index + 1, len(f.lines)) if quote in f.lines[n]), None)
        if closes_at is None or not closes_at <= f.line <= closes_at + 1:
            return None  # a quoted text over several lines on purpose; the error is elsewhere
        other = "'" if quote == '"' else '"'
        return _error(
            SYNTAX,
            f"the quote {quote} opened here is not closed on its line",
            f.span(index, col),
            f"end the text with {quote} on the same line; to write a {quote} inside the text, "
            f"quote it with {other} instead",
        )
    return None


def _text_after_quote(f: _Failure) -> Diagnostic | None:
    """`a: 'it's fine'` or `a: "x" y`: the quoted text ended before the author meant it to."""
    if "expected key" not in f.problem and "expected <block end>" not in f.problem:
        return None
    line = f.lines[f.line] if f.line < len(f.lines) else ""
    match = re.match(r"^(\s*(?:-\s+)?[^\s:]+:\s+)(['\"])", line)
    if match is None or f.col <= match.end():
        return None
    quote = match.group(2)
    if quote == "'" and f.char(f.line, f.col - 1) != " ":
        hint = "inside '...' write a single quote twice (''), or quote the text with \"...\" instead"
        message = "a ' inside '...' ends the text early"
        return _error(SYNTAX, message, f.span(f.line, f.col - 1), hint)
    return _error(
        SYNTAX,
        "text continues after the closing quote",
        f.span(f.line, f.col),
        "put the whole text inside the quotes",
    )


def _alias_or_anchor(f: _Failure) -> Diagnostic | None:
    if "alias" not in f.context and "anchor" not in f.context:
        return None
    if f.context_line is None or f.context_col is None:
        return None
    char = f.char(f.context_line, f.context_col)
    rest = f.lines[f.context_line][f.context_col + 1 :].lstrip()
    span = f.span(f.context_line, f.context_col)
    if char == "*":
        if rest.startswith(":"):
            return _error(
                SYNTAX,
                "a bare * starts a YAML alias, so it cannot be a key",
                span,
                'write the star key in quotes: `"*": <node>`',
            )
        return _error(SYNTAX, "a bare * starts a YAML alias", span, 'write the star in quotes: `"*"`')
    hint = f'put the text in quotes: `"{char}..."`'
    return _error(SYNTAX, f"a bare {char} starts a YAML anchor", span, hint)


def _bad_tag(f: _Failure) -> Diagnostic | None:
    if "tag" not in f.context or f.context_line is None or f.context_col is None:
        return None
    return _tag_diagnostic(f.span(f.context_line, f.context_col), f.lines[f.context_line][f.context_col :])


def _reserved_character(f: _Failure) -> Diagnostic | None:
    if "cannot start any token" not in f.problem or f.at not in "@`%":
        return None
    return _error(
        SYNTAX,
        f"YAML text cannot start with {f.at}",
        f.span(f.line, f.col),
        f'put the text in quotes: `"{f.lines[f.line][f.col :].strip()}"`',
    )


def _full_width_colon(f: _Failure) -> Diagnostic | None:
    for index in [f.line, *f.previous_lines(f.line)]:
        if index >= len(f.lines):
            continue
        match = _FULL_WIDTH_KEY.match(f.lines[index])
        if match:
            key = match.group(2)
            return _error(
                FULL_WIDTH_COLON,
                f"a full-width colon '：' after `{key}`: YAML only knows the ASCII ':'",
                f.span(index, match.start(3)),
                f"type `{key}: ` with the ASCII colon and a space (switch the input method to English)",
            )
    return None


def _missing_space(f: _Failure) -> Diagnostic | None:
    if "mapping values" not in f.problem and "expected ':'" not in f.problem:
        return None
    for index in [f.line, *f.previous_lines(f.line)]:
        if index >= len(f.lines):
            continue
        match = _RUN_TOGETHER.match(f.lines[index])
        if match and (index != f.line or f.col > match.end(3)):
            key, value = match.group(2), f.lines[index][match.end(3) :].strip()
            return _error(
                NO_SPACE_AFTER_COLON,
                f"no space after the ':' of `{key}`, so YAML reads `{key}:{value}` as one piece of text",
                f.span(index, match.start(3)),
                f"put a space after the colon: `{key}: {value}`",
            )
    return None


def _full_width_comma(f: _Failure) -> Diagnostic | None:
    """`{zh: 你好，en: Hello}`: the Chinese comma does not end the entry, so `en:` lands
    inside the text."""
    line = f.lines[f.line] if f.line < len(f.lines) else ""
    match = re.search(r"([，、])\s*([A-Za-z_][\w-]*)\s*:", line[: f.col + 1])
    if match is None:
        return None
    key = match.group(2)
    return _error(
        FULL_WIDTH_COLON,
        f"a full-width comma '{match.group(1)}' before `{key}:`: YAML separates entries with the ASCII ','",
        f.span(f.line, match.start(1)),
        f"type `, {key}:` with the ASCII comma (switch the input method to English)",
    )


def _colon_in_text(f: _Failure) -> Diagnostic | None:
    """`en: Note: closed`: a ': ' inside unquoted text starts a new key."""
    line = f.lines[f.line] if f.line < len(f.lines) else ""
    if f.at != ":":
        return None
    first = re.match(r"^\s*(?:-\s+)?[^:]*?:(\s|$)", line)
    inside_flow = "flow mapping" in f.context
    if not inside_flow and (first is None or first.end() > f.col):
        return None
    start = first.end() if first is not None and not inside_flow else line.rfind(" ", 0, f.col) + 1
    text = line[start:].strip().rstrip(",}").strip()
    return _error(
        SYNTAX,
        "a ': ' inside unquoted text, so YAML reads the text as a new key",
        f.span(f.line, f.col),
        f'put the text in quotes: "{text}"' if text else 'put the text in quotes: "..."',
    )


def _brace_in_text(f: _Failure) -> Diagnostic | None:
    if "flow mapping" not in f.context or f.context_line != f.line:
        return None
    line = f.lines[f.line] if f.line < len(f.lines) else ""
    col = f.col if f.at in "{}[]" else line.find("{", (f.context_col or 0) + 1)
    if col < 0 or col > f.col:
        return None
    return _error(
        SYNTAX,
        f"a '{line[col]}' inside unquoted text in {{...}}",
        f.span(f.line, col),
        'put the text in quotes: `{en: "Welcome {name}"}`',
    )


def _unclosed_collection(f: _Failure) -> Diagnostic | None:
    if "flow" not in f.context or f.context_line is None or f.context_col is None:
        return None
    if f.context_line == f.line:
        return None
    opener = f.char(f.context_line, f.context_col) or "["
    closer = {"[": "]", "{": "}"}.get(opener, "]")
    return _error(
        SYNTAX,
        f"the '{opener}' opened here is never closed",
        f.span(f.context_line, f.context_col),
        f"add '{closer}' at the end of the line (or quote text that contains ',')",
    )


def _list_item_in_mapping(f: _Failure) -> Diagnostic | None:
    if "expected key" not in f.problem or f.at != "-":
        return None
    return _error(
        SYNTAX,
        "a list item ('- ') among the keys of a mapping",
        f.span(f.line, f.col),
        "remove the '- ', or put the list under its own key (`cases:` then the '- ' lines below it)",
    )


def _indentation(f: _Failure) -> Diagnostic | None:
    if "mapping values" not in f.problem and "expected key" not in f.problem:
        return None
    line = f.lines[f.line] if f.line < len(f.lines) else ""
    previous = f.previous_lines(f.line, 1)
    if not line.strip() or not previous:
        return None
    indent = len(line) - len(line.lstrip(" "))
    above = f.lines[previous[0]]
    above_indent = len(above) - len(above.lstrip(" "))
    if indent == above_indent or not _KEY_LINE.match(above):
        return None
    where = "more" if indent > above_indent else "less"
    return _error(
        SYNTAX,
        f"this line is indented {indent} spaces, {where} than the line above ({above_indent})",
        f.span(f.line, indent),
        "line keys of one mapping up under each other, with the same number of spaces",
    )


_RECOGNISERS: tuple[Callable[[_Failure], Diagnostic | None], ...] = (
    _tab,
    _unclosed_quote,
    _quote_runs_on,
    _alias_or_anchor,
    _bad_tag,
    _reserved_character,
    _full_width_colon,
    _missing_space,
    _unclosed_collection,
    _brace_in_text,
    _full_width_comma,
    _colon_in_text,
    _list_item_in_mapping,
    _text_after_quote,
    _indentation,
)


def _tag_diagnostic(span: Span, written: str) -> Diagnostic:
    text = written.strip()
    word = text.split()[0] if text else "!"
    return _error(
        TAG,
        f"YAML reads `{word}` as a tag, not as part of the value",
        span,
        f'in an expression write `not {word[1:]}`; text that starts with ! needs quotes: `"{text}"`'
        if word[1:].isidentifier()
        else f'text that starts with ! needs quotes: `"{text}"`',
    )


def explain_tag(node: yaml.Node, file: str, source_line: str) -> Diagnostic | None:
    """A value written with a local YAML tag (`if: !ok`, `zh: !注意`): YAML takes the `!...`
    as a type annotation and the value as empty (or as what follows)."""
    tag = str(node.tag or "")
    if not tag.startswith("!"):
        return None
    start = node.start_mark
    span = Span(file, start.line + 1, start.column + 1, start.line + 1, start.column + 1 + len(tag))
    return _tag_diagnostic(span, source_line[start.column :])


def split_run_together_key(key_node: yaml.ScalarNode, file: str) -> tuple[Diagnostic, str, str] | None:
    """`{zh:你好}` or `{zh：你好}` inside a flow mapping: one key with no value, where the
    author meant the key `zh` with the text. Returns the diagnostic and the repaired key and
    value, so the rest of the file is checked as meant (one error for one mistake)."""
    text = str(key_node.value)
    match = re.match(r"^([A-Za-z_][\w-]*)\s*([:：])\s*(\S.*)$", text)
    if match is None:
        return None
    key, colon, value = match.groups()
    start = key_node.start_mark
    offset = match.start(2)
    span = Span(file, start.line + 1, start.column + 1 + offset, start.line + 1, start.column + 2 + offset)
    if colon == "：":
        message = f"a full-width colon '：' after `{key}`: YAML only knows the ASCII ':'"
        hint = f"type `{key}: {value}` with the ASCII colon and a space"
        return _error(FULL_WIDTH_COLON, message, span, hint), key, value
    message = f"no space after the ':' of `{key}`, so YAML reads `{text}` as a key with no value"
    hint = f"put a space after the colon: `{key}: {value}`"
    return _error(NO_SPACE_AFTER_COLON, message, span, hint), key, value


def split_full_width_list(item: yaml.ScalarNode, file: str) -> tuple[Diagnostic, list[str]] | None:
    """`[zh，en]`: one item with a Chinese comma inside, where the author meant two items.
    Returns the diagnostic and the items meant."""
    text = str(item.value)
    if item.style or not re.fullmatch(r"[A-Za-z_][\w-]*(\s*[，、]\s*[A-Za-z_][\w-]*)+", text):
        return None
    parts = re.split(r"\s*[，、]\s*", text)
    comma = re.search(r"[，、]", text)
    offset = comma.start() if comma else 0
    start = item.start_mark
    span = Span(file, start.line + 1, start.column + 1 + offset, start.line + 1, start.column + 2 + offset)
    message = f"a full-width comma in `{text}`: YAML only separates list items with the ASCII ','"
    hint = f"type [{', '.join(parts)}] with ASCII commas (switch the input method to English)"
    return _error(FULL_WIDTH_COLON, message, span, hint), parts


def misread_value(value: object, expected: tuple[str, ...], span: Span, field: str) -> Diagnostic | None:
    """A value whose YAML shape is not what the field needs, in a way that shows the slip:
    `type:say` (no space) or `type： say` read as text where a mapping belongs, a list of
    `- name: ...` items where a mapping of names belongs, or a mapping where a list does."""
    if "object" in expected and isinstance(value, str):
        match = re.match(r"^([A-Za-z_][\w-]*)\s*([:：])\s*(\S.*)?$", value.splitlines()[0] if value else "")
        if match:
            key, colon, rest = match.group(1), match.group(2), match.group(3) or "..."
            col = span.col + match.start(2)
            at = Span(span.file, span.line, col, span.line, col + 1)
            if colon == "：":
                message = f"a full-width colon '：' after `{key}`: YAML only knows the ASCII ':'"
                return _error(FULL_WIDTH_COLON, message, at, f"type `{key}: {rest}` with the ASCII colon")
            message = f"no space after the ':' of `{key}`, so `{field}` is text instead of a mapping"
            return _error(NO_SPACE_AFTER_COLON, message, at, f"put a space after the colon: `{key}: {rest}`")
    named_items = isinstance(value, list) and value and all(isinstance(i, dict) and i for i in value)
    if "object" in expected and isinstance(value, list) and named_items:
        first = next(iter(value[0]))
        return _error(
            "FL103",
            f"`{field}` needs a mapping of names, but the '- ' lines make it a list",
            span,
            f"remove the '- ' before each entry and indent its fields under it: `{first}:`",
        )
    if "array" in expected and isinstance(value, dict) and value:
        first = next(iter(value))
        return _error(
            "FL103",
            f"`{field}` needs a list, but `{first}: ...` makes it a mapping",
            span,
            "write one item per line starting with '- ', or [a, b] on one line",
        )
    return None
