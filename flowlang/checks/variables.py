"""Variable checks (FL5xx and the expression checks FL2xx): every name read or assigned is
declared, declared names are used, `return` hands back declared outputs.

Reads are checked by `ivr.flowlang.expressions.check_expression` (FL203-FL207) with the
flow's names plus `call` (and `result` inside a lookup's `assign`). Assigning a flow input
is allowed: inputs are the flow's own state once it runs. `call` and `result` are read-only.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from ivr.flowlang.checks.context import Checking, error, warning
from ivr.flowlang.diagnostics import Diagnostic, did_you_mean
from ivr.flowlang.expressions import check_expression, names_used
from ivr.flowlang.ir import OUTBOUND_NAMES, Flow, Return

BUILTINS = frozenset({"call"})


def check_flow(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    yield from _reads(flow, c)
    yield from _writes(flow, c)
    yield from _returns(flow)
    if not c.gaps_of(flow).incomplete:
        yield from _unused(flow, c)


def declared_names(flow: Flow) -> frozenset[str]:
    return frozenset(d.name for d in flow.declarations())


def _reads(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    known = declared_names(flow) | BUILTINS
    operations = c.operation_arity()
    for site in c.sites(flow):
        if site.callee_scope:
            continue
        for d in check_expression(site.value, known_names=known | site.extra_names, operations=operations):
            yield _in_node(d, site.node.id if site.node else None)


def _in_node(d: Diagnostic, node_id: str | None) -> Diagnostic:
    return Diagnostic(d.code, d.severity, d.message, d.span, d.hint, d.yaml_path, d.node_id or node_id)


def _writes(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    known = declared_names(flow)
    for write in c.writes(flow):
        if write.name in known:
            continue
        if write.name in BUILTINS or write.name == "result":
            message = f"node '{write.node.id}' assigns '{write.name}', which is built in and read-only"
            yield error("FL501", message, write.span, "assign a declared variable instead", write.node)
            continue
        hint = (
            did_you_mean(write.name, known) or f"declare it: `variables: {{{write.name}: {{type: string}}}}`"
        )
        message = f"node '{write.node.id}' assigns '{write.name}', which is not declared"
        yield error("FL501", message, write.span, hint, write.node)


def _returns(flow: Flow) -> Iterator[Diagnostic]:
    outputs = [d.name for d in flow.outputs]
    for node in flow.nodes.values():
        if not isinstance(node, Return):
            continue
        for arg in node.outputs:
            if arg.name not in outputs:
                hint = did_you_mean(arg.name, outputs) or f"declare it under `outputs:` of flow '{flow.name}'"
                message = (
                    f"return node '{node.id}' hands back '{arg.name}', which is not an output of this flow"
                )
                yield error("FL503", message, arg.span, hint, node)


def _unused(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    read = {n.name for site in c.sites(flow) if not site.callee_scope for n in names_used(site.value)}
    written = {w.name for w in c.writes(flow)}
    declared = declared_names(flow)
    # a misspelt read or write (FL206, FL501) is the use of the name it meant: not "unused" too
    meant = {
        close
        for name in (read | written) - declared - BUILTINS - {"result"}
        for close in difflib.get_close_matches(name, list(declared), n=1, cutoff=0.6)
    }
    for section, decls in (("input", flow.inputs), ("variable", flow.variables)):
        for decl in decls:
            if decl.name in read or decl.name in meant or not decl.name.isidentifier():
                continue
            if flow.outbound is not None and decl.name in OUTBOUND_NAMES:
                continue  # FL504 said it: the name is built into an outbound flow
            if decl.name in written:
                message = f"{section} '{decl.name}' is set but never read"
            else:
                message = f"{section} '{decl.name}' is never used"
            yield warning("FL502", message, decl.span, "remove it, or use it where it was meant to be")
