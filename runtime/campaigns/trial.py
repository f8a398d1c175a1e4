"""An outbound call without a phone: what `ivr test` and `ivr simulate` hand an outbound
flow (a contact, the campaign, who answered), checked against what the flow declares.

Place: used by the flow-test runner (`outbound:` in a test) and the simulate command
(`--outbound`, `--contact`, `--answered-by`). Contact values are read as their declared
types (an unquoted 12.5 into a `number` field is an exact decimal, 95500 into a `string`
field is the text "95500").
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from ivr.flowlang.diagnostics import did_you_mean
from ivr.flowlang.ir import Flow
from ivr.runtime.ports import AnsweredBy, OutboundCall

ANSWERED_BY: tuple[AnsweredBy, ...] = ("person", "machine")


def trial_call(
    flow: Flow,
    contact: Mapping[str, object] | None,
    *,
    answered_by: str = "person",
    campaign: str = "trial",
    attempt: int = 1,
) -> tuple[OutboundCall | None, list[str]]:
    """The `OutboundCall` to run `flow` with, or the problems that prevent it."""
    if flow.outbound is None:
        if contact is not None:
            return None, [f"flow '{flow.name}' is not an outbound flow: it has no `outbound:` section"]
        return None, []
    if answered_by not in ANSWERED_BY:
        return None, [f"answered_by is 'person' or 'machine', not {answered_by!r}"]
    given = dict(contact or {})
    problems: list[str] = []
    values = contact_values(flow, given)
    for decl in flow.outbound.contact:
        if decl.required and decl.name not in given:
            hint = did_you_mean(decl.name, list(given))
            extra = f" ({hint})" if hint else ""
            problems.append(
                f"flow '{flow.name}' reads contact field '{decl.name}': give it in contact{extra}"
            )
    if problems:
        return None, problems
    by: AnsweredBy = "machine" if answered_by == "machine" else "person"
    return OutboundCall(values, {"name": campaign, "run": campaign, "attempt": attempt}, by), []


def contact_values(flow: Flow, fields: Mapping[str, object]) -> dict[str, object]:
    """What `contact` holds in `flow`: every field given (declared ones read as their type)
    and every declared field, None when the contact has none (an optional field)."""
    declared = {d.name: d for d in flow.outbound.contact} if flow.outbound else {}
    values = {k: (_as_type(v, declared[k].type) if k in declared else v) for k, v in fields.items()}
    for name in declared:
        values.setdefault(name, None)
    return values


def _as_type(value: object, kind: str) -> object:
    if kind == "number" and isinstance(value, str):  # a contact list's cells may be text
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return as_declared_type(value, kind)


def as_declared_type(value: object, kind: str) -> object:
    """A YAML scalar as a declared type: a number into a `string` is its text, an int or
    float into a `number` an exact decimal; anything else stays as it is."""
    if isinstance(value, bool) or value is None:
        return value
    if kind == "string" and isinstance(value, int | float | Decimal):
        return str(value)
    if kind == "number" and isinstance(value, int | float):
        return Decimal(str(value))
    return value
