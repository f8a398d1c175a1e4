"""Global keys and the agent's context: the compiler's reading of `global_keys` (in the
service, a flow or an input node) and of a flow's `context`.

A `global_keys` entry is `name: {key, action | goto}` or `name: false` (off). Only what the
schema cannot see is reported here (FL312: an entry that says both `action` and `goto`, or
`true`); whether an entry is complete is judged once inherited values are known
(`ivr.flowlang.checks.globalkeys`).
"""

from __future__ import annotations

from typing import cast

from ivr.flowlang.compile import values as v
from ivr.flowlang.compile.reader import Reader
from ivr.flowlang.ir import ContextField, GlobalKey, KeyAction

ACTIONS = ("back", "repeat")


def global_keys(r: Reader) -> tuple[GlobalKey, ...]:
    """The `global_keys` entries of the mapping `r` (a service, a flow or a node)."""
    found = []
    for name, raw, path in r.mapping("global_keys"):
        span = r.ctx.key_span(path)
        if raw is False:
            found.append(GlobalKey(name, span, off=True))
            continue
        if raw is True:
            hint = f'`{name}: false` turns it off; `{name}: {{key: "0", goto: node}}` says what it does'
            r.ctx.report("FL312", f"`{name}: true` does not say what the key does", span, hint, path)
            continue
        if not isinstance(raw, dict):
            continue  # the schema has said so
        item = Reader(r.ctx, raw, path)
        found.append(_entry(item, name))
    return tuple(found)


def _entry(item: Reader, name: str) -> GlobalKey:
    goto = v.edge(item, "goto", label=name)
    action = item.text("action")
    if goto is not None and action is not None:
        hint = f"keep one: `action: {action}` or `goto: {goto.target}`"
        message = f"global key '{name}' has both `action` and `goto`"
        item.ctx.report("FL312", message, item.span("action"), hint, item.at("action"))
    chosen: KeyAction | None = "goto" if goto is not None else None
    if chosen is None and action in ACTIONS:
        chosen = cast(KeyAction, action)
    return GlobalKey(name, item.ctx.key_span(item.path), v.key(item, "key", None), chosen, goto)


def context(r: Reader) -> tuple[ContextField, ...]:
    """A flow's `context`: `name: expression` or `name: {value: expression, label: {...}}`."""
    found = []
    for name, raw, path in r.mapping("context"):
        if isinstance(raw, dict):
            expr = v.expression(r.ctx, raw.get("value"), (*path, "value"))
            labels = raw.get("label")
            given = labels if isinstance(labels, dict) else {}
            label = {k: t for k, t in given.items() if isinstance(t, str)}
        else:
            expr, label = v.expression(r.ctx, raw, path), {}
        if expr is not None:
            found.append(ContextField(name, expr, label, r.ctx.entry_span(path)))
    return tuple(found)
