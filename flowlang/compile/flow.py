"""Compile one flow document: schema-check it, then build the frozen `Flow`.

The flow is built whenever its skeleton is usable (a mapping with nodes), even when some
nodes are broken, so that drawing, simulation and the semantic checks still see the rest.
`FlowBuild` also tells the checks which node ids were left out (broken) and whether some
values were dropped, so they do not report consequences of an error already shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ivr.flowlang.compile import keys, nodes
from ivr.flowlang.compile.language_codes import is_language_code, language_hint
from ivr.flowlang.compile.outbound import build_outbound
from ivr.flowlang.compile.reader import Context, Reader
from ivr.flowlang.diagnostics import Diagnostic, Severity, Span
from ivr.flowlang.expressions.types import DECLARED, DECLARED_WORDS, of_value
from ivr.flowlang.ir import Flow, Node, VariableDecl
from ivr.flowlang.validation import YAML11_BOOLEANS, fields_by_kind, show, validate_flow
from ivr.flowlang.yamlsource import SourceMap

BUILTIN_NAMES = frozenset({"call", "result"})


@dataclass
class FlowBuild:
    """A compiled flow (or None) with what the checks need to know about its gaps."""

    flow: Flow | None
    diagnostics: list[Diagnostic]
    omitted: frozenset[str] = field(default_factory=frozenset)
    incomplete: bool = False
    dropped_edges: frozenset[tuple[str, str]] = field(default_factory=frozenset)


def build_flow(data: object, source_map: SourceMap, file: str) -> FlowBuild:
    if not isinstance(data, dict):
        message = "a flow file is a mapping that starts with `flow: <name>`"
        hint = "see docs/language.md, 'A flow file'"
        return FlowBuild(None, [Diagnostic("FL103", Severity.ERROR, message, source_map.value(()), hint)])
    ctx = Context(file, source_map)
    ctx.diagnostics.extend(validate_flow(data, source_map))
    # a shape error leaves a value out: verdicts about the whole flow (unused) could be false
    ctx.incomplete = any(d.is_error for d in ctx.diagnostics)
    top = Reader(ctx, data, ())
    ctx.languages = _languages(top)
    declared = {section: _declarations(top, section) for section in ("inputs", "outputs", "variables")}
    _check_names(ctx, declared)
    outbound_section = data.get("outbound")
    contact = _declarations(
        Reader(ctx, outbound_section if isinstance(outbound_section, dict) else {}, ("outbound",)), "contact"
    )
    built, omitted = _nodes(top)
    name = top.text("flow") or Path(file).stem
    start = top.text("start", "") or ""
    if not isinstance(data.get("nodes"), dict) or not top.text("flow"):
        ctx.incomplete = True
    flow = Flow(
        name=name,
        file=file,
        span=source_map.value(("flow",)),
        description=top.text("description", "") or "",
        languages=ctx.languages,
        inputs=declared["inputs"],
        outputs=declared["outputs"],
        variables=declared["variables"],
        start=start,
        start_span=source_map.value(("start",)),
        nodes=built,
        languages_span=source_map.value(("languages",)),
        outbound=build_outbound(top, contact),
        global_keys=keys.global_keys(top),
        context=keys.context(top),
    )
    return FlowBuild(
        flow,
        ctx.diagnostics,
        frozenset(omitted),
        ctx.incomplete or bool(omitted),
        frozenset(ctx.dropped_edges),
    )


def _languages(top: Reader) -> tuple[str, ...]:
    """The declared languages; when missing (already reported), those the prompts use."""
    declared = tuple(dict.fromkeys(top.strings("languages")))
    check_language_codes(top)
    if declared:
        return declared
    top.ctx.incomplete = True
    seen = dict.fromkeys(lang for lang in _prompt_keys(top.get("nodes")))
    return tuple(seen) or ("en",)


def check_language_codes(top: Reader) -> None:
    """FL402 for each declared language that is not a language code."""
    raw = top.get("languages")
    for i, code in enumerate(raw if isinstance(raw, list) else []):
        if isinstance(code, str) and not is_language_code(code):
            path = (*top.path, "languages", i)
            message = f"'{code}' is not a language code"
            top.ctx.report("FL402", message, top.ctx.value_span(path), language_hint(code), path)


def _prompt_keys(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("prompt", "retry_prompt", "no_input_prompt", "no_match_prompt", "invalid_prompt"):
                if isinstance(item, dict):
                    yield from item
            else:
                yield from _prompt_keys(item)


def _declarations(top: Reader, section: str) -> tuple[VariableDecl, ...]:
    out = []
    for name, raw, path in top.mapping(section):
        item = Reader(top.ctx, raw if isinstance(raw, dict) else {}, path)
        kind = item.text("type", "any") or "any"
        if item.has("initial"):
            check_initial(item, kind)
        out.append(
            VariableDecl(
                name=name,
                type=kind,
                secret=item.flag("secret", False),
                initial=_initial(kind, item.get("initial")),
                required=item.flag("required", section in ("inputs", "contact")),
                description=item.text("description", "") or "",
                span=top.ctx.key_span(path),
            )
        )
    return tuple(out)


def check_initial(item: Reader, kind: str) -> None:
    """FL103 when `initial:` is not of the declared type. YAML 1.1 words (`no`, `off`) are
    text here, so `initial: no` for a boolean would start out as the text "no", which counts
    as true: the same hint as for node fields."""
    value = item.get("initial")
    wanted = DECLARED.get(kind)
    if wanted is None or of_value(value).kinds & wanted:
        return
    word = DECLARED_WORDS[kind]
    message = f"`initial` of a {kind} variable must be {word}, got {show(value)}"
    hint = _initial_hint(kind, value)
    item.ctx.report("FL103", message, item.span("initial"), hint, item.at("initial"))


def _initial_hint(kind: str, value: object) -> str:
    if isinstance(value, str) and kind == "boolean" and value.lower() in YAML11_BOOLEANS:
        return f"YAML 1.1 '{value}' is text here; write {YAML11_BOOLEANS[value.lower()]}"
    if isinstance(value, str) and kind == "number":
        return "write the number without quotes" if _is_number(value) else "give a number, e.g. `initial: 0`"
    if kind == "string" and not isinstance(value, str | dict | list):
        return f'put it in quotes: "{str(value).lower() if isinstance(value, bool) else value}"'
    examples = {"boolean": "false", "list": "[]", "map": "{}", "number": "0", "string": '""'}
    return f"give {DECLARED_WORDS[kind]}, e.g. `initial: {examples.get(kind, 'null')}`"


def _is_number(text: str) -> bool:
    try:
        Decimal(text.replace(",", ""))
    except ArithmeticError:
        return False
    return bool(text.strip())


def _initial(kind: str, value: object) -> object:
    if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _check_names(ctx: Context, declared: dict[str, tuple[VariableDecl, ...]]) -> None:
    seen: dict[str, str] = {}
    for section, decls in declared.items():
        for decl in decls:
            if decl.name in BUILTIN_NAMES:
                ctx.report(
                    "FL504",
                    f"'{decl.name}' is built in and cannot be declared",
                    decl.span,
                    f"choose another name; `{decl.name}` is always there to read",
                    (section, decl.name),
                )
            elif decl.name in seen:
                ctx.report(
                    "FL504",
                    f"'{decl.name}' is declared in both {seen[decl.name]} and {section}",
                    decl.span,
                    "a name lives in one place: keep one of them",
                    (section, decl.name),
                )
            seen.setdefault(decl.name, section)


def _nodes(top: Reader) -> tuple[dict[str, Node], set[str]]:
    built: dict[str, Node] = {}
    omitted: set[str] = set()
    unknown_fields = {d.node_id for d in top.ctx.diagnostics if d.code == "FL102"}
    for node_id, raw, path in top.mapping("nodes"):
        kind = raw.get("type") if isinstance(raw, dict) else None
        builder = nodes.BUILDERS.get(kind) if isinstance(kind, str) else None
        if builder is None or not isinstance(raw, dict):
            omitted.add(node_id)
            continue
        reader = Reader(top.ctx, raw, path)
        if node_id in unknown_fields:
            _misnamed_edges(reader, str(kind), top.get("nodes"))
        base = nodes.Base(node_id, _node_span(top.ctx, path), reader.text("description", "") or "")
        node = builder(reader, base)
        if node is None:
            omitted.add(node_id)
        else:
            built[node_id] = node
    return built, omitted


def _misnamed_edges(r: Reader, kind: str, all_nodes: object) -> None:
    """A field the node kind does not have (FL102, already reported) that names nodes, as in
    `nxt: goodbye` or a confirm's `options`, is most likely a misnamed edge: its targets
    still count as reached, and the node is not also a dead end (one error per mistake)."""
    unknown = r.data.keys() - fields_by_kind().get(kind, frozenset())
    ids = all_nodes if isinstance(all_nodes, dict) else {}
    for name in unknown:
        for target in _strings(r.data[name]):
            if target in ids:
                r.ctx.drop_edge(r.path, target)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _node_span(ctx: Context, path: tuple[str | int, ...]) -> Span:
    key = ctx.key_span(path)
    return Span(key.file, key.line, key.col, key.line, key.col + len(str(path[-1])))
