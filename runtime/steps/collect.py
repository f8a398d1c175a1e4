"""`collect`: a digit string into a variable, with the timers of docs/engine.md.

The entry ends at the terminator, when the inter-digit timeout passes, or (only for a
collect without a terminator) at `max_length` digits: with a terminator, "600519#" is
one entry and a key beyond `max_length` makes it invalid. `overall_timeout` bounds the
whole entry from the end of the prompt and, like the inter-digit timeout, keeps what was
typed. No key at all is a no-input try; too few digits, a bare terminator, a malformed
`star_decimal` number or a false `valid` expression (or one that cannot be evaluated on
the keys typed, such as `number(qty)` of "0*") is an invalid try. Into a secret
variable the entry is marked secret on the leg and recorded only as `***`.

Global keys (`ivr.runtime.steps._keys`): an entry that is one global key alone (`0` then
the terminator or a pause), or the terminator pressed first when it is a global key, does
what that key does. Keys typed before it make it part of the entry, so `0` is still the
first digit of 000001. In a secret entry the same holds: nothing typed is kept, recorded or
shown when the caller leaves with a global key; the record names only the key.
"""

from __future__ import annotations

from decimal import Decimal

import trio

from ivr.flowlang import expressions
from ivr.flowlang.globalkeys import ActiveKey
from ivr.flowlang.ir import Collect
from ivr.runtime.context import MASK, CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.ports import ExpectedInput
from ivr.runtime.steps import _keys
from ivr.runtime.steps._ask import NO_INPUT, NO_MATCH, Asking, Failed, ask
from ivr.runtime.steps._eval import evaluate
from ivr.runtime.steps._keys import NodeKeys, Pressed


async def read_keys(call: CallContext, node: Collect) -> tuple[str, bool]:
    """The keys typed (terminator excluded) and whether the terminator ended the entry."""
    if node.overall_timeout is None:  # no timer over the entry: no cancel scope either
        return await _entry(call, node, [])
    typed: list[str] = []
    with trio.move_on_after(float(node.overall_timeout)):
        return await _entry(call, node, typed)
    return "".join(typed), False


async def _entry(call: CallContext, node: Collect, typed: list[str]) -> tuple[str, bool]:
    """Read keys into `typed` until the terminator, a digit timeout or `max_length`; what
    was typed stays in `typed` when the overall timeout cuts this short."""
    # With a terminator, the caller ends the entry: one key too many makes it invalid.
    limit = node.max_length if node.terminator is None else node.max_length + 1
    while len(typed) < limit:
        wait: Decimal = node.inter_digit_timeout if typed else node.first_digit_timeout
        key = await call.leg.read_digit(wait)
        if key is None:
            break
        if key == node.terminator:
            return "".join(typed), True
        typed.append(key)
    return "".join(typed), False


async def run(node: Collect, call: CallContext, frame: Frame) -> StepResult:
    secret = node.into in frame.secrets
    global_keys = _keys.enter(call, frame, node)

    async def attempt() -> str | Failed | Pressed:
        keys, terminated = await read_keys(call, node)
        pressed = global_keys.alone(keys, terminated, node.terminator)
        if pressed is not None:
            return pressed
        if not keys and not terminated:
            return Failed(NO_INPUT)
        value = node.entry(keys)
        if value is None or not await _valid(call, frame, node, value):
            return Failed(NO_MATCH)
        return value

    asking = _asking(node, global_keys, secret)
    if secret:
        call.leg.clear_digits()
        call.leg.set_secret_entry(True)
    try:
        outcome = await ask(call, frame, node, asking, attempt)
    finally:
        if secret:
            call.leg.set_secret_entry(False)
    if isinstance(outcome, Pressed):
        return await _keys.follow(call, frame, node, global_keys, outcome)
    if isinstance(outcome, Failed):
        if outcome.kind == NO_INPUT:
            return need(node.on_no_input, node, "on_no_input")
        return need(node.on_invalid, node, "on_invalid")
    frame.variables[node.into] = outcome
    await call.event("input", node, outcome="match", variable=node.into, value=MASK if secret else outcome)
    return need(node.next, node, "next")


# (collect, its keys by key, secret?) -> what it asks with: the keys are memoized per node
# (`_keys`), so the prompts, the expected input and the global keys shown are put together
# once per compiled node (as a menu's), not at every collect a call enters.
_askings: dict[tuple[int, int, bool], tuple[Collect, dict[str, ActiveKey], Asking]] = {}
_LIMIT = 100_000


def _asking(node: Collect, keys: NodeKeys, secret: bool) -> Asking:
    ident = (id(node), id(keys.by_key), secret)
    seen = _askings.get(ident)
    if seen is not None and seen[0] is node and seen[1] is keys.by_key:
        return seen[2]
    failures = {NO_INPUT: node.no_input_prompt, NO_MATCH: node.invalid_prompt}
    expected = ExpectedInput("collect", (), node.max_length, node.terminator, secret, keys.shown())
    asking = Asking(node.prompt, node.retry_prompt, failures, node.max_retries, node.barge_in, expected)
    if len(_askings) >= _LIMIT:
        _askings.clear()
    _askings[ident] = (node, keys.by_key, asking)
    return asking


async def _valid(call: CallContext, frame: Frame, node: Collect, value: str) -> bool:
    """The `valid` check of an entry; one it cannot be evaluated on (`number(qty)` of "0*":
    the caller's keys, not the flow, are wrong) is an invalid try, never a failed call."""
    if node.valid is None:
        return True
    try:
        return expressions.truthy(await evaluate(call, frame, node, node.valid, {node.into: value}))
    except expressions.EvaluationError:
        return False
