"""What one YAML document may cost to read: the guard inside `yamlsource`'s first step.

A few hundred bytes of anchors and aliases can stand for billions of values (the "billion
laughs": `a0: &a0 [lol, lol, ...]`, `a1: &a1 [*a0, *a0, ...]`, ...). PyYAML composes an
alias as a shared node, so composing stays cheap, but everything after it (the source map
builder, the schema, the compiler) walks the document as a tree and expands every alias.
A large plain document costs in proportion to its size, and a recursive alias
(`a: &a [*a, *a]`) expands without end.

So the document is composed by a counting composer over libyaml's events: it adds up the
values the document will have once every alias is expanded and stops at the first event
that passes a limit, with that event's position. Refusing a bomb takes milliseconds, since
no alias is ever expanded to count it. The limits (docs/errors.md, FL013 and FL002):

- `MAX_NODES` values (scalars, lists and mappings, keys included) after expanding aliases;
  a generated 1,001-node flow has about 15,400;
- `MAX_DEPTH` levels of nested lists and mappings;
- `MAX_CHARS` characters of text (the same figure as `yamlsource.MAX_BYTES` for files);
- an alias may not repeat a list or mapping that it is itself inside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import (
    AliasEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import Node, ScalarNode
from yaml.resolver import Resolver

from ivr.flowlang.diagnostics import Diagnostic, Severity, Span

__all__ = ["MAX_CHARS", "MAX_DEPTH", "MAX_NODES", "TooCostly", "compose_within_limits"]

MAX_NODES = 100_000
MAX_DEPTH = 100
MAX_CHARS = 5_000_000


class TooCostly(Exception):
    """The document passes one of the limits; `diagnostic` says which and where."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def compose_within_limits(text: str, file: str) -> tuple[Node | None, list[Diagnostic]]:
    """The root node of the one YAML document in `text` (None when it is empty), and the
    problems that did not stop the reading (a part nested too deeply, read as null).

    Raises `TooCostly` past a limit and `yaml.YAMLError` for text that is not YAML."""
    if len(text) > MAX_CHARS:
        message = f"the text is {len(text):,} characters; a document is limited to {MAX_CHARS:,}"
        raise TooCostly(Diagnostic("FL004", Severity.ERROR, message, Span(file, 1, 1)))
    loader = _CountingLoader(text, file)
    try:
        return loader.get_single_node(), loader.problems
    finally:
        loader.dispose()


_COLLECTION_START = (SequenceStartEvent, MappingStartEvent)
_COLLECTION_END = (SequenceEndEvent, MappingEndEvent)


class _CountingComposer(Composer):
    """PyYAML's composer, counting the expanded size of what it composes as it goes."""

    # given by the parser half of the loader (libyaml's CParser or PyYAML's Parser)
    peek_event: Callable[[], Event]
    get_event: Callable[[], Event]

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file
        self.problems: list[Diagnostic] = []
        self.expanded = 0  # values so far, every alias counted at its expanded size
        self.depth = 0
        # anchored node (kept alive by self.anchors, so its id is stable) -> expanded size;
        # an anchor that is still open has no size yet, so an alias to it is recursive
        self.sizes: dict[int, int] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)  # raises for an undefined alias
            size = self.sizes.get(id(node))
            if size is None:
                raise self._recursive(event)
            self._add(size, event, alias=True)
            return node
        before = self.expanded
        self._add(1, event, alias=False)
        nested = isinstance(event, _COLLECTION_START)
        if nested and self.depth >= MAX_DEPTH:
            node = self._skip_too_deep()
        else:
            self.depth += nested
            try:
                node = super().compose_node(parent, index)
            finally:
                self.depth -= nested
        anchor = event.anchor if isinstance(event, NodeEvent) else None
        if anchor is not None and node is not None:
            self.anchors[anchor] = node
            self.sizes[id(node)] = self.expanded - before
        return node

    def _skip_too_deep(self) -> Node:
        """Read past a list or mapping nested too deeply (without recursion) and stand a null
        in for it, so the rest of the document is still checked."""
        start = self.get_event()
        message = f"the document nests deeper than {MAX_DEPTH} levels"
        hint = "a flow never needs more than a few levels of nesting"
        self.problems.append(self._diagnostic("FL002", message, start, hint))
        level, end = 1, start
        while level:
            end = self.get_event()
            level += isinstance(end, _COLLECTION_START) - isinstance(end, _COLLECTION_END)
        marks: tuple[Any, Any] = (start.start_mark, end.end_mark)  # libyaml's Mark or PyYAML's
        return ScalarNode("tag:yaml.org,2002:null", "", *marks)

    def _add(self, count: int, event: Event, *, alias: bool) -> None:
        self.expanded += count
        if self.expanded <= MAX_NODES:
            return
        if alias:
            message = (
                f"the alias *{getattr(event, 'anchor', '')} repeats {count:,} values, which takes the "
                f"document past {MAX_NODES:,} values once its aliases are expanded"
            )
            hint = "an alias (*name) copies everything its anchor (&name) holds: copy less, or write it out"
        else:
            message = f"the document has more than {MAX_NODES:,} values (lists, mappings, keys and texts)"
            hint = "split it into several flows (subflows) or files"
        raise TooCostly(self._diagnostic("FL013", message, event, hint))

    def _recursive(self, event: AliasEvent) -> TooCostly:
        name = event.anchor
        message = f"the alias *{name} is inside the anchor &{name} it repeats, so it never ends"
        hint = "an alias can only repeat a list or mapping that is already complete"
        return TooCostly(self._diagnostic("FL002", message, event, hint))

    def _diagnostic(self, code: str, message: str, event: Event, hint: str) -> Diagnostic:
        start, end = event.start_mark, event.end_mark
        if start is None or end is None:  # pragma: no cover - both parsers mark every event
            return Diagnostic(code, Severity.ERROR, message, Span(self.file, 1, 1), hint)
        span = Span(self.file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)
        return Diagnostic(code, Severity.ERROR, message, span, hint)


if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class _CountingLoader(_CountingComposer, CParser, Resolver):
        """libyaml's parser for the events (ten times faster), our composer over them."""

        def __init__(self, text: str, file: str) -> None:
            CParser.__init__(self, text)
            _CountingComposer.__init__(self, file)
            Resolver.__init__(self)

else:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _CountingLoader(_CountingComposer, Reader, Scanner, Parser, Resolver):  # type: ignore[no-redef]
        def __init__(self, text: str, file: str) -> None:
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)
            _CountingComposer.__init__(self, file)
            Resolver.__init__(self)

        def dispose(self) -> None:
            Parser.dispose(self)
