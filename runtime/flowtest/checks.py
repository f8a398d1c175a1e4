"""Judges a finished call against a test's `expect:` block; each mismatch is one message."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal

from ivr.runtime.context import MASK
from ivr.runtime.engine import CallOutcome
from ivr.runtime.flowtest.model import Expected, FlowTest
from ivr.runtime.testing import (
    FixtureOperations,
    MemoryCallLeg,
    MemoryCallRecords,
    MemoryChannels,
    ScriptedRouting,
)


def judge(
    test: FlowTest,
    outcome: CallOutcome,
    operations: FixtureOperations,
    channels: MemoryChannels,
    routing: ScriptedRouting,
    leg: MemoryCallLeg,
    records: MemoryCallRecords,
) -> list[str]:
    actual: dict[str, Callable[[], object]] = {
        "node": lambda: outcome.last_node,
        "ended": lambda: outcome.how,
        "operations": lambda: [c.name for c in operations.calls],
        "transfers": lambda: [t.destination for t in leg.transfers],
        "queued": lambda: [r.queue for r in routing.requests],
        "recordings": lambda: len(records.recordings),
        "path": lambda: [v.node for v in outcome.path],
        "global_keys": lambda: global_keys_pressed(records, outcome.call_id),
    }
    problems: list[str] = []
    for expected in test.expect:
        if expected.what == "variables":
            problems += _variables(expected, outcome.variables)
        elif expected.what == "messages":
            problems += _messages(expected, channels)
        elif expected.what == "path":
            problems += _path(expected, [v.node for v in outcome.path])
        elif expected.what == "context":
            problems += _context(expected, routing)
        elif not same(actual[expected.what](), expected.value):
            problems.append(_mismatch(expected, actual[expected.what]()))
    return problems


def global_keys_pressed(records: MemoryCallRecords, call_id: str) -> list[str]:
    """The names of the global keys the caller used, in order (`repeat` included)."""
    return [
        str(e.detail.get("key"))
        for e in records.of(call_id, "input")
        if e.detail.get("outcome") == "global_key"
    ]


def same(actual: object, expected: object) -> bool:
    """Equality as a flow author means it: 12 == 12.0 == "12" for numbers, lists item-wise."""
    if isinstance(actual, list | tuple) and isinstance(expected, list | tuple):
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        return all(k in actual and same(actual[k], v) for k, v in expected.items())
    if actual == expected:
        return True
    number = _number(actual), _number(expected)
    return None not in number and number[0] == number[1]


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _mismatch(expected: Expected, actual: object) -> str:
    return f"{expected.span}: expected {expected.what} {expected.value!r}, got {actual!r}"


def _variables(expected: Expected, variables: Mapping[str, object]) -> list[str]:
    if not isinstance(expected.value, Mapping):
        return [f"{expected.span}: `variables` is a mapping of name: value"]
    return [
        _variable_mismatch(expected, str(name), value, variables.get(name, "<undeclared>"))
        for name, value in expected.value.items()
        if not same(variables.get(name), value)
    ]


def _variable_mismatch(expected: Expected, name: str, value: object, actual: object) -> str:
    if actual == MASK:  # a secret, or a variable filled from one: show neither value
        return (
            f"{expected.span}: variable {name} holds a secret, shown only as {MASK}: a test cannot "
            f"compare its value (expect {MASK!r} to check that it was set)"
        )
    return f"{expected.span}: expected variable {name} = {value!r}, got {actual!r}"


def _path(expected: Expected, nodes: list[str]) -> list[str]:
    """The expected node ids must appear in this order (other nodes may come between)."""
    wanted = [str(n) for n in expected.value] if isinstance(expected.value, list) else []
    remaining = iter(nodes)
    if all(any(n == w for n in remaining) for w in wanted):
        return []
    return [f"{expected.span}: expected the path to pass {' -> '.join(wanted)}, took {' -> '.join(nodes)}"]


def screen_context(routing: ScriptedRouting) -> dict[str, object]:
    """The context fields the last queued call showed the agent (`ivr_context`), by name;
    a later flow's field wins over an earlier one of the same name."""
    if not routing.requests:
        return {}
    context = routing.requests[-1].data.get("ivr_context")
    shown = context.get("fields") if isinstance(context, Mapping) else None
    fields: dict[str, object] = {}
    for item in shown if isinstance(shown, list) else []:
        if isinstance(item, Mapping):
            fields[str(item.get("name"))] = item.get("value")
    return fields


def _context(expected: Expected, routing: ScriptedRouting) -> list[str]:
    """Each `name: REGEX` matches the field the agent was shown (a search, as for prompts)."""
    if not isinstance(expected.value, Mapping):
        return [f"{expected.span}: `context` is a mapping of field name: REGEX"]
    shown = screen_context(routing)
    problems = []
    for name, wanted in expected.value.items():
        actual = shown.get(str(name))
        if actual is None or not re.search(str(wanted), str(actual)):
            seen = ", ".join(f"{k}={v!s}" for k, v in shown.items()) or "nothing"
            problems.append(
                f"{expected.span}: expected the agent to see {name} matching /{wanted}/; shown: {seen}"
            )
    return problems


def _messages(expected: Expected, channels: MemoryChannels) -> list[str]:
    sent = channels.outbox
    wanted = expected.value if isinstance(expected.value, list) else []
    if len(wanted) != len(sent):
        return [
            f"{expected.span}: expected {len(wanted)} message(s), {len(sent)} sent: {[m.to for m in sent]}"
        ]
    problems = []
    for want, message in zip(wanted, sent, strict=True):
        want = want if isinstance(want, Mapping) else {}
        text_ok = re.search(str(want.get("text", "")), message.message or "") is not None
        fields_ok = all(same(getattr(message, k), v) for k, v in want.items() if k in ("channel", "to"))
        if not (text_ok and fields_ok):
            problems.append(f"{expected.span}: expected message {dict(want)}, sent {message}")
    return problems
