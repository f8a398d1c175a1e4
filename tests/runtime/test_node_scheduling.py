"""How often a call yields to the others between nodes (`runtime/engine.py`, SCHEDULE_EVERY):
a node boundary checks for a hang-up without a schedule point, and a run of nodes that
never wait still lets other calls run and a hang-up stop it within SCHEDULE_EVERY nodes."""

from __future__ import annotations

import itertools

import trio
from engine_harness import Harness, flow, project
from trio.testing import MockClock

from ivr.runtime.engine import SCHEDULE_EVERY
from ivr.runtime.ports import CallEvent
from ivr.runtime.testing import MemoryCallLeg, MemoryCallRecords

SPIN = flow(
    """
    flow: spin
    languages: [en]
    variables:
      n: {type: number, initial: 0}
    start: count
    nodes:
      count: {type: set, assign: {n: n + 1}, next: again}
      again:
        type: branch
        cases: [{if: n < 200, next: count}]
        else: done
      done: {type: hangup}
    """
)


async def test_calls_looping_through_nodes_that_never_wait_take_turns(autojump_clock: MockClock) -> None:
    entered: list[str] = []
    records = MemoryCallRecords(
        keep_events=False,
        on_event=lambda e: entered.append(e.call_id) if e.kind == "node_entered" else None,
    )
    harness = Harness(project(SPIN), records=records)
    async with trio.open_nursery() as nursery:
        for name in ("a", "b"):
            nursery.start_soon(harness.run, MemoryCallLeg(call_id=name))
    assert records.ended == {"a": "completed", "b": "completed"}
    longest, run = 0, 0
    for previous, current in itertools.pairwise(entered):
        run = run + 1 if current == previous else 1
        longest = max(longest, run)
    assert len(entered) == 2 * 401
    # they take turns; a call yields at least every SCHEDULE_EVERY nodes (trio may run the
    # same task last in one batch and first in the next, hence twice that in a row)
    assert 1 < longest <= 2 * SCHEDULE_EVERY


async def test_a_hang_up_during_nodes_that_never_wait_stops_the_call_within_a_few_nodes(
    autojump_clock: MockClock,
) -> None:
    leg = MemoryCallLeg(call_id="a")
    entered: list[CallEvent] = []

    def seen(event: CallEvent) -> None:
        if event.kind == "node_entered":
            entered.append(event)

    harness = Harness(project(SPIN), records=MemoryCallRecords(keep_events=False, on_event=seen))

    async def hang_up_soon() -> None:
        while len(entered) < 5:
            await trio.lowlevel.checkpoint()
        leg.hang_up()
        hung_up_at.append(len(entered))

    hung_up_at: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hang_up_soon)
        outcome = await harness.run(leg)
    assert outcome.how == "caller_hangup"
    assert hung_up_at and len(entered) - hung_up_at[0] <= 1  # the next boundary after the notice
    assert len(entered) <= 5 + 2 * SCHEDULE_EVERY  # the hanging-up task got its turn
