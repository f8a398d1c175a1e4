"""Service reference checks (FL60x): operations, queues, calendars and channels a flow uses
are declared in the service file, operation arguments match the declared `params`, and
dialed numbers route to flows that exist. With no service file every reference is an error
whose hint says where to declare it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ivr.flowlang.checks.context import Checking, error, listing, warning
from ivr.flowlang.diagnostics import Diagnostic, Span, did_you_mean
from ivr.flowlang.expressions import Attribute, Name, walk
from ivr.flowlang.ir import Enqueue, Flow, Lookup, Node, NumberRoute, Schedule, Send

_SECTIONS = {"FL601": "operations", "FL603": "queues", "FL604": "calendars", "FL605": "channels"}


def check_flow(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    for node in flow.nodes.values():
        match node:
            case Lookup():
                yield from _lookup(node, c)
            case Enqueue():
                yield from _reference("FL603", "queue", node.queue, node.queue_span, node, c)
            case Schedule():
                yield from _reference("FL604", "calendar", node.calendar, node.calendar_span, node, c)
            case Send():
                yield from _reference("FL605", "channel", node.channel, node.channel_span, node, c)


def _declared(code: str, c: Checking) -> Mapping[str, object] | None:
    service = c.project.service
    if service is None:
        return None
    section: Mapping[str, object] = getattr(service, _SECTIONS[code])
    return section


def _reference(code: str, what: str, name: str, span: Span, node: Node, c: Checking) -> Iterator[Diagnostic]:
    declared = _declared(code, c)
    section = _SECTIONS[code]
    if declared is None and c.service_unreadable:
        return
    if declared is None:
        message = f"{what} '{name}' is not declared: there is no service file"
        yield error(code, message, span, f"declare it under `{section}:` in service.yaml", node)
    elif name not in declared:
        names = list(declared)
        hint = did_you_mean(name, names) or (
            f"declared {section}: {listing(names)}"
            if names
            else f"declare it under `{section}:` in service.yaml"
        )
        yield error(code, f"{what} '{name}' is not declared in the service", span, hint, node)


def _lookup(node: Lookup, c: Checking) -> Iterator[Diagnostic]:
    yield from _reference("FL601", "operation", node.operation, node.operation_span, node, c)
    service = c.project.service
    operation = service.operations.get(node.operation) if service else None
    if operation is None:
        return
    given = [a.name for a in node.args]
    for arg in node.args:
        if arg.name not in operation.params:
            hint = (
                did_you_mean(arg.name, operation.params)
                or f"it takes: {', '.join(operation.params) or 'nothing'}"
            )
            message = f"operation '{operation.name}' has no parameter '{arg.name}'"
            yield error("FL602", message, arg.span, hint, node)
    missing = [p for p in operation.params if p not in given]
    if missing:
        message = f"operation '{operation.name}' needs {', '.join(repr(p) for p in missing)} in `args`"
        hint = "add " + ", ".join(f"`{p}: <expression>`" for p in missing)
        yield error("FL602", message, node.operation_span, hint, node)
    if operation.returns:
        yield from _result_fields(node, operation.name, operation.returns)


def _result_fields(node: Lookup, operation: str, returns: tuple[str, ...]) -> Iterator[Diagnostic]:
    for assignment in node.assign:
        for expr in walk(assignment.expr):
            if _reads_result_field(expr) and isinstance(expr, Attribute) and expr.name not in returns:
                hint = did_you_mean(expr.name, returns) or f"it returns: {', '.join(returns)}"
                message = f"operation '{operation}' does not return '{expr.name}'"
                yield warning("FL612", message, expr.span, hint, node)


def _reads_result_field(expr: object) -> bool:
    return isinstance(expr, Attribute) and isinstance(expr.obj, Name) and expr.obj.name == "result"


def check_numbers(c: Checking) -> Iterator[Diagnostic]:
    """FL611: every dialed number of the service routes to a flow of the project."""
    service = c.project.service
    if service is None or not c.whole_project:
        return
    for route in service.numbers:
        entry = c.project.flows.get(route.flow)
        if entry is not None:
            yield from _entry_inputs(route, entry)
        if route.flow not in c.project.flows and route.flow not in c.unreadable_flows:
            flows = list(c.project.flows)
            hint = did_you_mean(route.flow, flows) or (
                f"flows: {listing(flows)}" if flows else "no flows were loaded"
            )
            yield error(
                "FL611",
                f"number {route.number} routes to flow '{route.flow}', which does not exist",
                route.span,
                hint,
            )


def _entry_inputs(route: NumberRoute, entry: Flow) -> Iterator[Diagnostic]:
    """FL619: a call starts its entry flow with no inputs, so it cannot need any."""
    required = [d.name for d in entry.inputs if d.required]
    if required:
        names = ", ".join(f"'{n}'" for n in required)
        message = f"number {route.number} starts flow '{entry.name}', which needs the input {names}"
        hint = (
            f"a call brings no inputs: declare {required[0]} `required: false` in '{entry.name}', "
            "or route the number to a flow that calls it as a subflow"
        )
        yield error("FL619", message, route.span, hint)
