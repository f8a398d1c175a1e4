"""Secret checks (FL51x): a secret (a PIN, a password) never leaves the engine.

Secret variables are those declared `secret: true` and, by propagation, any variable a `set`
node fills from an expression that reads a secret. A secret read where the value is spoken,
logged, sent, stored with a recording, shown on an agent's screen or dialled is an error
(FL510); so is passing one into a subflow input that is not declared secret (FL511).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from ivr.flowlang.checks.context import Checking, error
from ivr.flowlang.checks.sites import Write, flow_writes
from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.expressions import names_used
from ivr.flowlang.ir import Flow, Subflow

LEAK_HINT = "secrets are never spoken, logged, sent or stored; use something else (e.g. its length)"


def secret_sources(flow: Flow, writes: Iterable[Write] | None = None) -> dict[str, str]:
    """Variable -> the declared secret it holds (itself for declared secrets)."""
    tainted = {name: name for name in flow.secret_names()}
    assignments = tuple(flow_writes(flow) if writes is None else writes)
    changed = True
    while changed:
        changed = False
        for write in assignments:
            if write.source is None or write.name in tainted:
                continue
            for name in names_used(write.source):
                if name.name in tainted:
                    tainted[write.name] = tainted[name.name]
                    changed = True
                    break
    return tainted


def check_flow(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    tainted = secret_sources(flow, c.writes(flow))
    if not tainted:
        return
    for site in c.sites(flow):
        if site.exposure is None:
            continue
        for name in names_used(site.value):
            if name.name in tainted:
                where = f"{site.what} of node '{site.node.id}' reads it"
                message = f"{_which(name.name, tainted)} would be {site.exposure}: {where}"
                hint = f"remove `{name.name}` from {site.what}; {LEAK_HINT}"
                yield error("FL510", message, name.span, hint, site.node)
    yield from _subflow_inputs(flow, c, tainted)


def _which(name: str, tainted: Mapping[str, str]) -> str:
    source = tainted[name]
    return f"secret '{name}'" if source == name else f"'{name}' holds the secret '{source}' and"


def _subflow_inputs(flow: Flow, c: Checking, tainted: Mapping[str, str]) -> Iterator[Diagnostic]:
    for node in flow.nodes.values():
        if not isinstance(node, Subflow):
            continue
        callee = c.project.flows.get(node.flow)
        if callee is None:
            continue
        secret_inputs = {d.name for d in callee.inputs if d.secret}
        for arg in node.inputs:
            leaked = [n for n in names_used(arg.expr) if n.name in tainted]
            if leaked and arg.name not in secret_inputs:
                secret = tainted[leaked[0].name]
                target = f"input '{arg.name}' of flow '{callee.name}'"
                message = f"secret '{secret}' goes to {target}, which is not secret"
                hint = f"declare `{arg.name}: {{secret: true}}` under inputs of flow '{callee.name}'"
                yield error("FL511", message, leaked[0].span, hint, node)
