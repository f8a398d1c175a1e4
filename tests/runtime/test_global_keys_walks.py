"""Random callers on the global-keys flows (hypothesis): whatever they press, no call fails,
and every `back` lands on a menu or collect the call has already been to."""

from __future__ import annotations

import trio
import trio.testing
from engine_harness import Harness
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_global_keys import keys_project

from ivr.flowlang.ir import Collect, Menu
from ivr.runtime.engine import CallOutcome
from ivr.runtime.testing import MemoryCallLeg

PRESSES = ["0", "1", "2", "3", "9", "*", "#", "0#", "*#", "##", "10#", "600519", "135790#", ""]
PROJECT = keys_project()


async def _walk(presses: list[str]) -> CallOutcome:
    harness = Harness(PROJECT)
    leg = MemoryCallLeg(seconds_per_char=0)
    outcome: list[CallOutcome] = []

    async def caller() -> None:
        target = 1  # the engine's read that the next keys answer
        for keys in presses:
            await leg.wait_for(lambda t=target: leg.ended or (leg.reads >= t and not leg.pending_digits))  # type: ignore[misc]
            if leg.ended:
                return
            target = leg.reads + max(len(keys), 1)  # each key takes a read; silence lets one pass
            leg.press(keys)
        leg.hang_up()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller)
        outcome.append(await harness.run(leg, "main"))
        nursery.cancel_scope.cancel()
    return outcome[0]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(PRESSES), max_size=14))
@example(["2", "100#", "135790#", "1", "*"])  # back after a confirmed order
@example(["2", "*#", "1", "*", "1", "600519"])  # back out of a subflow, then within the flow
def test_no_keys_break_a_call_and_back_goes_where_the_caller_has_been(presses: list[str]) -> None:
    outcome = trio.run(_walk, presses, clock=trio.testing.MockClock(autojump_threshold=0))
    assert outcome.how in ("completed", "caller_hangup", "agent"), outcome.failure
    path = outcome.path
    for index, visit in enumerate(path):
        if visit.edge != "back" or index + 1 >= len(path):
            continue
        if PROJECT.flows[visit.flow].nodes[visit.node].kind == "subflow":
            continue  # it took its child's `back`; the child's own visit, later, is followed by the target
        after = path[index + 1]
        landed = PROJECT.flows[after.flow].nodes[after.node]
        assert isinstance(landed, Menu | Collect), (visit, after)
        assert (after.flow, after.node) in {(v.flow, v.node) for v in path[:index]}, (visit, after)
