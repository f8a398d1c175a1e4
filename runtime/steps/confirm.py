"""`confirm`: read values back and take the confirm, re-enter or cancel key.

A key that is none of the three is a no-match try, unless it is a global key
(`ivr.runtime.steps._keys`). When the tries are spent, with either kind of failure,
`on_no_input` is taken ("no valid answer"): a confirmation is never assumed.
"""

from __future__ import annotations

from ivr.flowlang.ir import Confirm, Edge
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.ports import ExpectedInput
from ivr.runtime.steps import _keys
from ivr.runtime.steps._ask import NO_INPUT, NO_MATCH, Asking, Failed, ask
from ivr.runtime.steps._keys import Pressed


def _keys_of(node: Confirm) -> dict[str, tuple[str, Edge | None]]:
    keys: dict[str, tuple[str, Edge | None]] = {node.confirm_key: ("next", node.next)}
    if node.reenter_key:
        keys[node.reenter_key] = ("on_reenter", node.on_reenter)
    if node.cancel_key:
        keys[node.cancel_key] = ("on_cancel", node.on_cancel)
    return keys


async def run(node: Confirm, call: CallContext, frame: Frame) -> StepResult:
    keys = _keys_of(node)
    global_keys = _keys.enter(call, frame, node)

    async def attempt() -> str | Failed | Pressed:
        key = await call.leg.read_digit(node.timeout)
        if key is None:
            return Failed(NO_INPUT)
        if key in keys:
            return key
        return global_keys.pressed(key) or Failed(NO_MATCH)

    failures = {NO_INPUT: node.no_input_prompt, NO_MATCH: node.no_match_prompt}
    expected = ExpectedInput("confirm", tuple(keys), global_keys=global_keys.shown())
    asking = Asking(node.prompt, node.retry_prompt, failures, node.max_retries, expected=expected)
    outcome = await ask(call, frame, node, asking, attempt)
    if isinstance(outcome, Pressed):
        return await _keys.follow(call, frame, node, global_keys, outcome)
    if isinstance(outcome, Failed):
        return need(node.on_no_input, node, "on_no_input")
    label, edge = keys[outcome]
    await call.event("input", node, outcome="match", key=outcome)
    return need(edge, node, label)
