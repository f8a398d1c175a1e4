"""Typed, forgiving access to a loaded YAML document, with spans and a diagnostics sink.

The schema stage has already reported every shape problem, so readers here never report
a wrong type again: they return the default (or None) and let the compiler go on, so one
mistake never hides the next. Only problems the schema cannot see are reported here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ivr.flowlang.diagnostics import Diagnostic, Severity, Span
from ivr.flowlang.yamlsource import SourceMap, YamlPath

# characters of distinct expression and template text per document; a generated
# 1,001-node flow has about 14,600, all of flows/ about 15,400
MAX_EXPRESSION_TEXT = 50_000


@dataclass
class Context:
    """What one document's compilation shares: its file, source map and diagnostics."""

    file: str
    source_map: SourceMap
    languages: tuple[str, ...] = ()
    diagnostics: list[Diagnostic] = field(default_factory=list)
    incomplete: bool = False
    # expression and template texts parsed without error (a repeat costs nothing: the
    # parser caches them), and the characters parsed so far (see `admit_expression`)
    expression_texts: set[str] = field(default_factory=set)
    expression_chars: int = 0
    dropped_edges: set[tuple[str, str]] = field(default_factory=set)

    def drop_edge(self, path: YamlPath, target: object) -> None:
        """Remember an edge the compiler left out because its condition was broken (already
        reported), so the graph checks still see its target as reachable."""
        if len(path) >= 2 and path[0] == "nodes" and isinstance(target, str):
            self.dropped_edges.add((str(path[1]), target))

    def report(
        self,
        code: str,
        message: str,
        span: Span,
        hint: str | None = None,
        path: YamlPath = (),
        severity: Severity = Severity.ERROR,
    ) -> None:
        node_id = str(path[1]) if len(path) >= 2 and path[0] == "nodes" else None
        self.diagnostics.append(Diagnostic(code, severity, message, span, hint, path, node_id))

    def admit_expression(self, text: str, path: YamlPath) -> bool:
        """Whether `text` may still be parsed. Parsing an expression costs some thirty times
        what reading the same YAML does, so the expression and template text one document
        has parsed is bounded (`MAX_EXPRESSION_TEXT`, FL013); past it the rest is left out.
        A text that parsed is free to repeat (`parsed`); one that failed costs again."""
        if text in self.expression_texts:
            return True  # parsed before: the parser's cache answers
        self.expression_chars += len(text)
        if self.expression_chars <= MAX_EXPRESSION_TEXT:
            return True
        if self.expression_chars - len(text) <= MAX_EXPRESSION_TEXT:  # the first text past it
            message = (
                f"the document's expressions and prompt templates pass {MAX_EXPRESSION_TEXT:,} characters; "
                "from here on they are not checked"
            )
            hint = "split the flow into subflows (a repeated text that parses counts once)"
            self.report("FL013", message, self.value_span(path), hint, path)
        self.incomplete = True
        return False

    def parsed(self, text: str) -> None:
        self.expression_texts.add(text)

    def value_span(self, path: YamlPath) -> Span:
        return self.source_map.value(path)

    def key_span(self, path: YamlPath) -> Span:
        return self.source_map.key(path)

    def entry_span(self, path: YamlPath) -> Span:
        """From the key to the end of its value: `en: Hello` as one span."""
        key, value = self.key_span(path), self.value_span(path)
        return Span(key.file, key.line, key.col, value.end_line, value.end_col)


@dataclass(frozen=True)
class Reader:
    """One mapping of the document (a node, a declaration...) and its path."""

    ctx: Context
    data: dict[str, object]
    path: YamlPath

    def at(self, name: str) -> YamlPath:
        return (*self.path, name)

    def get(self, name: str) -> object:
        return self.data.get(name)

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name)
        return value if isinstance(value, str) else default

    def flag(self, name: str, default: bool) -> bool:
        value = self.data.get(name)
        return value if isinstance(value, bool) else default

    def whole(self, name: str, default: int) -> int:
        value = self.data.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9:
            return value
        return default

    def mapping(self, name: str) -> Iterator[tuple[str, object, YamlPath]]:
        value = self.data.get(name)
        if isinstance(value, dict):
            for key, item in value.items():
                yield key, item, (*self.path, name, key)

    def strings(self, name: str) -> tuple[str, ...]:
        value = self.data.get(name)
        if isinstance(value, list):
            return tuple(v for v in value if isinstance(v, str))
        return ()

    def span(self, name: str) -> Span:
        return self.ctx.value_span(self.at(name))

    def key_span(self, name: str) -> Span:
        return self.ctx.key_span(self.at(name))
