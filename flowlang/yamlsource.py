"""YAML text to plain data plus a source map: the first stage of the flowlang pipeline.

PyYAML's composer gives us nodes with positions; we build the plain values ourselves so
that every value and every key keeps its line and column (`SourceMap`). Two YAML 1.1 traps
are closed here: only `true`/`false` are booleans (`no`, `off`, `yes` stay strings, so the
schema can point at them), and every mapping key is a string (`1:` is the DTMF key "1").
Numbers with a fraction become `Decimal`, never float. Problems become diagnostics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import yaml

from ivr.flowlang.diagnostics import Diagnostic, Severity, Span
from ivr.flowlang.yamlerrors import (
    explain_syntax_error,
    explain_tag,
    split_full_width_list,
    split_run_together_key,
)
from ivr.flowlang.yamllimits import TooCostly, compose_within_limits

YamlPath = tuple[str | int, ...]

_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)$")
_DECIMAL = re.compile(r"[-+]?([0-9][0-9_]*)?\.[0-9_]+([eE][-+]?[0-9]+)?$|[-+]?[0-9]+[eE][-+]?[0-9]+$")

_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


_Marks = tuple[int, int, int, int]


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a loaded document sits in its file.

    Positions are kept as plain tuples and become `Span`s only when asked for: a 1,000-node
    flow has some 15,000 positions and most are never reported."""

    file: str
    values: dict[YamlPath, _Marks] = field(default_factory=dict)
    keys: dict[YamlPath, _Marks] = field(default_factory=dict)
    quoted: set[YamlPath] = field(default_factory=set)
    text: str = field(default="", repr=False)

    def value(self, path: YamlPath) -> Span:
        """The span of the value at `path`, or of its nearest ancestor that has one."""
        while path not in self.values and path:
            path = path[:-1]
        marks = self.values.get(path)
        return Span(self.file, *marks) if marks else Span(self.file, 1, 1)

    def key(self, path: YamlPath) -> Span:
        """The span of the key that names `path` (falls back to the value's span)."""
        marks = self.keys.get(path)
        return Span(self.file, *marks) if marks else self.value(path)

    def has_key(self, path: YamlPath) -> bool:
        return path in self.keys

    def find(self, path: YamlPath, needle: str, occurrence: int = 0) -> Span | None:
        """Where `needle` is written inside the value at `path` (its `occurrence`-th time), so
        a diagnostic about a part of a long value (`:acount` in a query) gets its own caret."""
        marks = self.values.get(path)
        if marks is None or not self.text:
            return None
        lines = self.text.split("\n")
        start = sum(len(line) + 1 for line in lines[: marks[0] - 1]) + marks[1] - 1
        end = sum(len(line) + 1 for line in lines[: marks[2] - 1]) + marks[3] - 1
        at = start - 1
        for _ in range(occurrence + 1):
            at = self.text.find(needle, at + 1, end)
            if at < 0:
                return None
        before = self.text[:at]
        line = before.count("\n") + 1
        col = at - (before.rfind("\n") + 1) + 1
        return Span(self.file, line, col, line, col + len(needle))

    def content_start(self, path: YamlPath) -> Span:
        """Where the text of a scalar begins (after an opening quote), for expression spans."""
        span = self.value(path)
        if path in self.quoted:
            return Span(span.file, span.line, span.col + 1, span.end_line, span.end_col)
        return span


@dataclass
class LoadedYaml:
    data: object
    source_map: SourceMap
    diagnostics: list[Diagnostic]


MAX_BYTES = 5_000_000


def decode_source(data: bytes, file: str) -> tuple[str | None, list[Diagnostic]]:
    """Bytes of a file to text: UTF-8 (with or without BOM). Anything else is a diagnostic
    that points at the first byte that is not UTF-8."""
    if len(data) > MAX_BYTES:
        message = f"the file is {len(data):,} bytes; flow files are limited to {MAX_BYTES:,}"
        return None, [Diagnostic("FL004", Severity.ERROR, message, Span(file, 1, 1))]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        hint = "save the file as UTF-8 (most editors: File > Save with encoding > UTF-8)"
        message = f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        return None, [Diagnostic("FL004", Severity.ERROR, message, Span(file, line, col), hint)]


def load_yaml_bytes(data: bytes, file: str) -> LoadedYaml:
    """`load_yaml` for the raw bytes of a file (decoding problems become diagnostics)."""
    text, problems = decode_source(data, file)
    if text is None:
        return LoadedYaml(None, SourceMap(file), problems)
    return load_yaml(text, file)


def _reader_problem(exc: yaml.YAMLError, text: str, file: str) -> Diagnostic:
    """A non-marked YAML error (such as a control character) as a positioned diagnostic."""
    position = int(getattr(exc, "position", 0) or 0)
    before = text[:position]
    line = before.count("\n") + 1
    col = position - (before.rfind("\n") + 1) + 1
    if isinstance(exc, yaml.reader.ReaderError):
        hint = "remove control characters; use spaces, not tabs, for indentation"
        return Diagnostic(
            "FL001", Severity.ERROR, f"YAML cannot contain this character: {exc}", Span(file, line, col), hint
        )
    return Diagnostic("FL001", Severity.ERROR, f"YAML error: {exc}", Span(file, line, col))


def _span(file: str, node: yaml.Node) -> Span:
    return Span(file, *_marks(node))


def _marks(node: yaml.Node) -> _Marks:
    start, end = node.start_mark, node.end_mark
    return (start.line + 1, start.column + 1, end.line + 1, end.column + 1)


def load_yaml(text: str, file: str) -> LoadedYaml:
    """Parse one YAML document. Never raises for bad input: problems are diagnostics."""
    source_map = SourceMap(file, text=text)
    diagnostics: list[Diagnostic] = []
    try:
        # bounded: alias bombs, huge and too deep documents stop early (yamllimits)
        root, beyond_limits = compose_within_limits(text, file)
        diagnostics.extend(beyond_limits)
    except TooCostly as exc:
        diagnostics.append(exc.diagnostic)
        return LoadedYaml(None, source_map, diagnostics)
    except yaml.MarkedYAMLError as exc:
        diagnostics.append(explain_syntax_error(exc, text, file))
        return LoadedYaml(None, source_map, diagnostics)
    except yaml.YAMLError as exc:
        diagnostics.append(_reader_problem(exc, text, file))
        return LoadedYaml(None, source_map, diagnostics)
    except RecursionError:
        diagnostics.append(
            Diagnostic(
                "FL002",
                Severity.ERROR,
                "the document nests too deeply to read",
                Span(file, 1, 1),
                hint="a flow never needs more than a few levels of nesting",
            )
        )
        return LoadedYaml(None, source_map, diagnostics)
    except Exception as exc:  # the YAML library's own surprises must never reach the user
        diagnostics.append(
            Diagnostic("FL001", Severity.ERROR, f"the YAML could not be read ({exc})", Span(file, 1, 1))
        )
        return LoadedYaml(None, source_map, diagnostics)
    if root is None:
        return LoadedYaml(None, source_map, diagnostics)
    builder = _Builder(file, source_map, diagnostics, text)
    return LoadedYaml(builder.build(root, ()), source_map, diagnostics)


class _Builder:
    def __init__(self, file: str, source_map: SourceMap, diagnostics: list[Diagnostic], text: str) -> None:
        self.file = file
        self.map = source_map
        self.diagnostics = diagnostics
        self.depth = 0
        self.lines = text.splitlines()  # once: a document may hold thousands of tags

    def build(self, node: yaml.Node, path: YamlPath) -> object:
        self.map.values[path] = _marks(node)
        if node.tag.startswith("!"):
            return self._tagged(node, path)
        if isinstance(node, yaml.ScalarNode):
            if node.style in ("'", '"'):
                self.map.quoted.add(path)
            return _scalar(node)
        self.depth += 1
        try:
            if self.depth > 100:
                hint = "a flow never needs this much nesting: flatten the lists and mappings"
                self._error("FL002", "the document nests deeper than 100 levels", node, hint)
                return None
            if isinstance(node, yaml.SequenceNode):
                if node.flow_style:
                    self._split_full_width(node, path)
                return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
        finally:
            self.depth -= 1
        return None

    def _mapping(self, node: yaml.MappingNode, path: YamlPath) -> dict[str, object]:
        result: dict[str, object] = {}
        explicit: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._merge(value_node, path, result, explicit)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._error("FL002", "a mapping key must be plain text, not a list or mapping", key_node)
                continue
            key = str(key_node.value)
            if node.flow_style and _is_empty(value_node):
                repaired = self._run_together(key_node, value_node, path)
                if repaired is not None:
                    key, value_node = repaired
            child = (*path, key)
            if key in explicit:
                first = self.map.keys.get(child)
                where = f" (first at line {first[0]})" if first else ""
                self._error(
                    "FL003",
                    f"duplicate key '{key}'{where}",
                    key_node,
                    hint="YAML keeps only the last one; remove or rename the other",
                )
            explicit.add(key)
            self.map.keys[child] = _marks(key_node)
            result[key] = self.build(value_node, child)
        return result

    def _merge(self, value: yaml.Node, path: YamlPath, result: dict[str, object], explicit: set[str]) -> None:
        """`<<: *defaults` (or a list of them): keys written in the mapping itself win, whether
        before or after the merge, and an earlier merged mapping wins over a later one (YAML's
        merge rule). Merged values are mapped to where the anchor defines them, so a problem
        in one points at its real line."""
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self._error("FL002", "`<<` merges a mapping (such as *defaults), nothing else", source)
                continue
            for key_node, value_node in source.value:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
                if key is None or key in explicit or key in result:
                    continue
                self.map.keys[(*path, key)] = _marks(key_node)
                result[key] = self.build(value_node, (*path, key))

    def _tagged(self, node: yaml.Node, path: YamlPath) -> object:
        """`if: !ok` is a YAML tag with an empty value: explained once, the value left out
        (later stages skip what is under an explained path)."""
        line = node.start_mark.line
        found = explain_tag(node, self.file, self.lines[line] if line < len(self.lines) else "")
        if found is not None:
            self.diagnostics.append(_at(found, path))
        return None

    def _run_together(
        self, key_node: yaml.ScalarNode, value_node: yaml.Node, path: YamlPath
    ) -> tuple[str, yaml.Node] | None:
        """`{zh:你好}`: reported, then read as the `zh: 你好` the author meant."""
        found = split_run_together_key(key_node, self.file)
        if found is None:
            return None
        diagnostic, key, text = found
        self.diagnostics.append(_at(diagnostic, (*path, key)))
        start, end = key_node.start_mark, key_node.end_mark
        at = start.column + len(str(key_node.value)) - len(text)
        begin = yaml.Mark(start.name, start.index, start.line, at, "", 0)
        repaired = yaml.ScalarNode("tag:yaml.org,2002:str", text, begin, end, style=None)
        return key, repaired

    def _split_full_width(self, node: yaml.SequenceNode, path: YamlPath) -> None:
        """`[zh，en]`: reported, then read as the `[zh, en]` the author meant."""
        items: list[yaml.Node] = []
        for item in node.value:
            found = split_full_width_list(item, self.file) if isinstance(item, yaml.ScalarNode) else None
            if found is None:
                items.append(item)
                continue
            self.diagnostics.append(_at(found[0], (*path, len(items))))
            tag = "tag:yaml.org,2002:str"
            items += [yaml.ScalarNode(tag, part, item.start_mark, item.end_mark) for part in found[1]]
        node.value = items

    def _error(self, code: str, message: str, node: yaml.Node, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, Severity.ERROR, message, _span(self.file, node), hint))


def _is_empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value == "" and not node.style


def _at(diagnostic: Diagnostic, path: YamlPath) -> Diagnostic:
    d = diagnostic
    return Diagnostic(d.code, d.severity, d.message, d.span, d.hint, path, d.node_id)


def _scalar(node: yaml.ScalarNode) -> object:
    """Plain scalars are typed (YAML 1.2 core style); quoted ones are always strings."""
    text = str(node.value)
    if node.style:  # quoted or block scalar ('' or None is plain, depending on the loader)
        return text
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.match(text):
        return int(text.replace("_", ""))
    if _DECIMAL.match(text):
        try:
            return Decimal(text.replace("_", ""))
        except InvalidOperation:
            return text
    return text
