"""Type checks of one flow (FL208-FL211): every expression type-checked against what the
flow declares, and every value stored in a variable checked against its declared type.

Where types come from: variable, input and output declarations (`type: number`), `call`
(caller, dialed, id, language: text), a lookup's `result` (a record with the operation's
`returns` fields, of unknown types), a subflow's outputs (the callee's declarations), the
functions' signatures. A declared type is trusted: a variable declared `number` holds a
number or null. What a node stores must fit the declaration (FL210): a `set` value, the
text a `collect` or `record` gives, a lookup or subflow output, a subflow input (against
the callee's declaration), a `return` output.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ivr.flowlang.checks.context import Checking, error
from ivr.flowlang.checks.sites import Site
from ivr.flowlang.diagnostics import Diagnostic, Span
from ivr.flowlang.expressions import Expr
from ivr.flowlang.expressions.typecheck import Scope, check_types, source_text
from ivr.flowlang.expressions.types import (
    CALL,
    CAMPAIGN,
    DECLARED,
    DECLARED_WORDS,
    TEXT,
    UNKNOWN,
    Kind,
    Type,
    declared,
    record,
)
from ivr.flowlang.ir import Collect, Flow, Lookup, Node, OperationDecl, Record, Return, Service, Set, Subflow

MISMATCH = "FL210"


def check_flow(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    scope = Scope(flow_scope(flow), operation_results(c.project.service))
    found: dict[int, Type] = {}
    for site in c.sites(flow):
        value, problems = check_types(site.value, _site_scope(site, scope, c))
        found[id(site.value)] = value
        for d in problems:
            yield _in_node(d, site.node)
    yield from _stored(flow, c, found)


def flow_scope(flow: Flow) -> dict[str, Type]:
    names = {d.name: declared(d.type) for d in flow.declarations()}
    names["call"] = CALL
    if flow.outbound is not None:  # `contact` holds exactly the declared fields
        fields = {d.name: declared(d.type) for d in flow.outbound.contact}
        names["contact"] = record(fields, closed=True)
        names["campaign"] = CAMPAIGN
    return names


def operation_results(service: Service | None) -> dict[str, Type]:
    return {name: operation_result(op) for name, op in service.operations.items()} if service else {}


def operation_result(op: OperationDecl) -> Type:
    """A record with the `returns` fields (of unknown types), or null; unknown for an SQL
    query without `one: true` (a list of rows, or the rows affected)."""
    if op.backend == "sql" and op.config.get("one") is not True:
        return UNKNOWN
    if not op.returns:
        return UNKNOWN
    return Type(Kind.RECORD | Kind.NULL)


def _site_scope(site: Site, scope: Scope, c: Checking) -> Scope:
    node = site.node
    if site.callee_scope and isinstance(node, Subflow):
        callee = c.project.flows.get(node.flow)
        outputs = {d.name: declared(d.type) for d in callee.outputs} if callee else {}
        return Scope({**outputs, "call": CALL}, scope.operations)
    if "result" in site.extra_names and isinstance(node, Lookup):
        operation = c.project.service.operations.get(node.operation) if c.project.service else None
        result = operation_result(operation) if operation else UNKNOWN
        return Scope({**scope.names, "result": result}, scope.operations)
    return scope


def _in_node(d: Diagnostic, node: Node | None) -> Diagnostic:
    node_id = d.node_id or (node.id if node else None)
    return Diagnostic(d.code, d.severity, d.message, d.span, d.hint, d.yaml_path, node_id)


def _stored(flow: Flow, c: Checking, found: Mapping[int, Type]) -> Iterator[Diagnostic]:
    """FL210: what each node stores fits the declared type of where it goes."""
    types = {d.name: d.type for d in flow.declarations()}
    for node in flow.nodes.values():
        match node:
            case Collect(into=name, into_span=span) | Record(into=name, into_span=span):
                yield from _fits(node, name, types.get(name), TEXT, span, None)
            case Set(assignments=assignments) | Lookup(assign=assignments) | Subflow(outputs=assignments):
                for a in assignments:
                    value = found.get(id(a.expr), UNKNOWN)
                    yield from _fits(node, a.variable, types.get(a.variable), value, a.expr.span, a.expr)
                if isinstance(node, Subflow):
                    yield from _inputs(node, c, found)
            case Return(outputs=outputs):
                for arg in outputs:
                    value = found.get(id(arg.expr), UNKNOWN)
                    yield from _fits(node, arg.name, types.get(arg.name), value, arg.expr.span, arg.expr)


def _inputs(node: Subflow, c: Checking, found: Mapping[int, Type]) -> Iterator[Diagnostic]:
    callee = c.project.flows.get(node.flow)
    if callee is None:
        return
    wanted = {d.name: d.type for d in callee.inputs}
    for arg in node.inputs:
        value = found.get(id(arg.expr), UNKNOWN)
        where = f"input '{arg.name}' of flow '{callee.name}'"
        yield from _fits(node, where, wanted.get(arg.name), value, arg.expr.span, arg.expr)


def _fits(
    node: Node, target: str, type_name: str | None, value: Type, span: Span, expr: Expr | None
) -> Iterator[Diagnostic]:
    if type_name is None or type_name not in DECLARED or value.is_unknown:
        return
    wanted = DECLARED[type_name]
    if value.definite & (wanted | Kind.NULL):
        return
    what = target if target.startswith("input ") else f"'{target}'"
    shown = f" (`{_short(expr)}`)" if expr is not None else ""
    verb = {"collect": "collects", "record": "records"}.get(node.kind, "stores")
    message = (
        f"{what} is declared {DECLARED_WORDS[type_name]}, but node '{node.id}' {verb} {value.words()}{shown}"
    )
    yield error(MISMATCH, message, span, _fit_hint(node, target, type_name, value, expr), node)


def _fit_hint(node: Node, target: str, type_name: str, value: Type, expr: Expr | None) -> str:
    if isinstance(node, Collect):
        return (
            f"a collect gives the keys as text: declare '{target}' `type: string`, or collect into a "
            f"text variable and convert it with a set node: `{target}: number({target}_text)`"
        )
    if isinstance(node, Record):
        return f"a recording is known by its id, which is text: declare '{target}' `type: string`"
    text = _short(expr) if expr is not None else "..."
    if type_name == "number" and value.definite == Kind.TEXT:
        return f"convert it: number({text})"
    if type_name == "string" and value.definite & (Kind.NUMBER | Kind.BOOL):
        return f"convert it: str({text})"
    if type_name == "boolean" and value.definite == Kind.TEXT:
        return "true and false are written without quotes"
    return f"store {DECLARED_WORDS[type_name]}, or declare it `type: any`"


def _short(expr: Expr | None) -> str:
    return source_text(expr) if expr is not None else ""
