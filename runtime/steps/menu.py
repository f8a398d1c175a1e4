"""`menu`: one key picks an option; no-input and no-match tries are counted and tapered.

Timing: the first-digit `timeout` starts when the prompt ends (or is cut by a key, which is
then the answer). A key typed ahead during the prompt answers at once. A key that is no
option but a global key (`ivr.runtime.steps._keys`) does what that key does.
"""

from __future__ import annotations

from ivr.flowlang.globalkeys import ActiveKey
from ivr.flowlang.ir import Edge, Menu
from ivr.runtime.context import CallContext, Frame
from ivr.runtime.memo import IdentityMemo
from ivr.runtime.outcomes import StepResult, need
from ivr.runtime.ports import ExpectedInput
from ivr.runtime.steps import _keys
from ivr.runtime.steps._ask import NO_INPUT, NO_MATCH, Asking, Failed, ask
from ivr.runtime.steps._keys import NodeKeys, Pressed


def _options_of(node: Menu) -> dict[str, Edge]:
    return {option.key: option.edge for option in node.options}


# A menu's options by key, made once per compiled node (shared by calls: read, never changed).
_options = IdentityMemo(_options_of)


async def run(node: Menu, call: CallContext, frame: Frame) -> StepResult:
    options = _options(node)
    keys = _keys.enter(call, frame, node)

    async def attempt() -> str | Failed | Pressed:
        key = await call.leg.read_digit(node.timeout)
        if key is None:
            return Failed(NO_INPUT)
        if key in options:
            return key
        return keys.pressed(key) or Failed(NO_MATCH)

    outcome = await ask(call, frame, node, _asking(node, keys), attempt)
    if isinstance(outcome, Pressed):
        return await _keys.follow(call, frame, node, keys, outcome)
    if isinstance(outcome, Failed):
        if outcome.kind == NO_INPUT:
            return need(node.on_no_input, node, "on_no_input")
        return need(node.on_no_match, node, "on_no_match")
    await call.event("input", node, outcome="match", key=outcome)
    return options[outcome]


# (menu, its keys by key) by identity -> what it asks with: both are made once per compiled
# node (`_keys` memoizes the keys), so the prompts, the expected input and the global keys
# shown are put together once, not at every menu a call enters.
_askings: dict[tuple[int, int], tuple[Menu, dict[str, ActiveKey], Asking]] = {}
_LIMIT = 100_000


def _asking(node: Menu, keys: NodeKeys) -> Asking:
    ident = (id(node), id(keys.by_key))
    seen = _askings.get(ident)
    if seen is not None and seen[0] is node and seen[1] is keys.by_key:
        return seen[2]
    failures = {NO_INPUT: node.no_input_prompt, NO_MATCH: node.no_match_prompt}
    expected = ExpectedInput("menu", tuple(_options(node)), global_keys=keys.shown())
    asking = Asking(node.prompt, node.retry_prompt, failures, node.max_retries, node.barge_in, expected)
    if len(_askings) >= _LIMIT:
        _askings.clear()
    _askings[ident] = (node, keys.by_key, asking)
    return asking
