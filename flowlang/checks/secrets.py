"""Secret checks (FL51x): a secret (a PIN, a password) never leaves the engine, across
subflow boundaries too.

Secret variables are those declared `secret: true` and, by propagation, any variable a `set`
node fills from an expression that reads a secret, or a subflow node fills from an output
of the called flow that carries a secret. A flow's outputs carry a secret when they are
declared secret, hold a secret by propagation, or a `return` hands one back through them;
this is computed for the whole project at once (a fixpoint over the calls).

Reported: a secret read where the value is spoken, logged, sent, stored with a recording,
shown on an agent's screen or dialled (FL510); a secret passed into a subflow input that is
not declared secret (FL511); a secret handed back through an output that is not declared
secret, or received from a secret output into a variable that is not (FL512). The last two
matter at run time too: the engine masks the variables a flow declares secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from ivr.flowlang.checks.context import Checking, error
from ivr.flowlang.checks.sites import Write, flow_writes
from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.expressions import names_used
from ivr.flowlang.ir import Flow, Return, Subflow

LEAK_HINT = "secrets are never spoken, logged, sent or stored; use something else (e.g. its length)"

Sources = dict[str, str]
"""Variable (or output) -> how to name the secret it holds: `'pin'` for a secret of the same
flow, `'pin' of flow 'authenticate'` for one that came back from a subflow."""


def secret_sources(
    flow: Flow, writes: Iterable[Write] | None = None, incoming: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Variable -> the declared secret it holds (itself for declared secrets). `incoming`
    adds variables a subflow node fills with a secret output (see `secret_outputs`)."""
    tainted = {name: name for name in flow.secret_names()}
    for variable, source in (incoming or {}).items():
        tainted.setdefault(variable, source)
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


def secret_outputs(c: Checking) -> dict[str, Sources]:
    """Flow name -> its outputs that carry a secret, for every flow of the project."""
    return c.memo("secret_outputs", lambda: _secret_outputs(c))


def _secret_outputs(c: Checking) -> dict[str, Sources]:
    carried: dict[str, Sources] = {}
    changed = True
    while changed:  # each round can only add outputs, so this ends
        changed = False
        for flow in c.project.flows.values():
            tainted = secret_sources(flow, c.writes(flow), _received(flow, c, carried))
            found = _outputs_carrying(flow, tainted)
            if found != carried.get(flow.name, {}):
                carried[flow.name] = found
                changed = True
    return carried


def _outputs_carrying(flow: Flow, tainted: Mapping[str, str]) -> Sources:
    found = {d.name: _named(tainted[d.name], flow) for d in flow.outputs if d.name in tainted}
    for node in flow.nodes.values():
        if isinstance(node, Return):
            for arg in node.outputs:
                leaked = [n.name for n in names_used(arg.expr) if n.name in tainted]
                if leaked:
                    found.setdefault(arg.name, _named(tainted[leaked[0]], flow))
    return found


def _named(source: str, flow: Flow) -> str:
    return source if " of flow " in source else f"'{source}' of flow '{flow.name}'"


def _received(flow: Flow, c: Checking, carried: Mapping[str, Sources]) -> Sources:
    """Variables of `flow` that a subflow node fills from an output carrying a secret."""
    received: Sources = {}
    for node in flow.nodes.values():
        if not isinstance(node, Subflow):
            continue
        outputs = carried.get(node.flow, {})
        for assignment in node.outputs:
            for name in names_used(assignment.expr):
                if name.name in outputs:
                    received.setdefault(assignment.variable, outputs[name.name])
    return received


def check_flow(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    carried = secret_outputs(c) if c.project.flows.get(flow.name) is flow else {}
    tainted = secret_sources(flow, c.writes(flow), _received(flow, c, carried))
    if not tainted:
        return
    for site in c.sites(flow):
        if site.exposure is None:
            continue
        for name in names_used(site.value):
            if name.name in tainted:
                owner = f"node '{site.node.id}'" if site.node else f"flow '{flow.name}'"
                where = f"{site.what} of {owner} reads it"
                message = f"{_which(name.name, tainted)} would be {site.exposure}: {where}"
                hint = f"remove `{name.name}` from {site.what}; {LEAK_HINT}"
                yield error("FL510", message, name.span, hint, site.node)
    yield from _subflow_inputs(flow, c, tainted)
    yield from _returned(flow, tainted)
    yield from _received_into_plain(flow, c)


def _which(name: str, tainted: Mapping[str, str]) -> str:
    """ "secret 'pin'", or "'copy' holds the secret 'pin' and", to start a message."""
    source = tainted[name]
    if source == name:
        return f"secret '{name}'"
    return f"'{name}' holds the secret {_quoted(source)} and"


def _secret(name: str, tainted: Mapping[str, str]) -> str:
    """ "secret 'pin'", or "'copy' (the secret 'pin')", as the subject of a message."""
    source = tainted[name]
    return f"secret '{name}'" if source == name else f"'{name}' (the secret {_quoted(source)})"


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
                message = f"secret {_quoted(secret)} goes to {target}, which is not secret"
                hint = f"declare `{arg.name}: {{secret: true}}` under inputs of flow '{callee.name}'"
                yield error("FL511", message, leaked[0].span, hint, node)


def _returned(flow: Flow, tainted: Mapping[str, str]) -> Iterator[Diagnostic]:
    """FL512 in the called flow: a secret handed back through an output not declared secret."""
    outputs = {d.name: d for d in flow.outputs}
    reported: set[str] = set()
    for node in flow.nodes.values():
        if not isinstance(node, Return):
            continue
        for arg in node.outputs:
            declaration = outputs.get(arg.name)
            if declaration is None or declaration.secret:
                continue
            leaked = [n for n in names_used(arg.expr) if n.name in tainted]
            if leaked:
                reported.add(arg.name)
                message = (
                    f"{_secret(leaked[0].name, tainted)} goes back to the calling flow through output "
                    f"'{arg.name}', which is not secret"
                )
                hint = f"declare `{arg.name}: {{type: {declaration.type}, secret: true}}` under outputs"
                yield error("FL512", message, leaked[0].span, hint, node)
    for declaration in flow.outputs:
        source = tainted.get(declaration.name)
        if source is not None and not declaration.secret and declaration.name not in reported:
            message = (
                f"output '{declaration.name}' holds the secret {_quoted(source)} and goes back to the "
                "calling flow, but is not declared secret"
            )
            hint = f"declare `{declaration.name}: {{type: {declaration.type}, secret: true}}`"
            yield error("FL512", message, declaration.span, hint)


def _quoted(source: str) -> str:
    return source if source.startswith("'") else f"'{source}'"


def _received_into_plain(flow: Flow, c: Checking) -> Iterator[Diagnostic]:
    """FL512 in the calling flow: a secret output stored in a variable not declared secret
    (the engine masks declared secrets only)."""
    secrets = flow.secret_names()
    for node in flow.nodes.values():
        if not isinstance(node, Subflow):
            continue
        callee = c.project.flows.get(node.flow)
        if callee is None:
            continue
        secret_outputs = {d.name for d in callee.outputs if d.secret}
        for assignment in node.outputs:
            if assignment.variable in secrets:
                continue
            for name in names_used(assignment.expr):
                if name.name in secret_outputs:
                    message = (
                        f"'{assignment.variable}' receives the secret output '{name.name}' of flow "
                        f"'{callee.name}', but is not declared secret"
                    )
                    hint = f"declare `{assignment.variable}: {{type: string, secret: true}}` under variables"
                    yield error("FL512", message, name.span, hint, node)
                    break
