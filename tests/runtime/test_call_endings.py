"""Every way a call can end leaves a complete call record and a defined path.

A hang-up in every node kind (during its prompt, its input, or its operation, queue,
transfer, recording or child flow); failing data operations and channels taking their
documented edges; the subflow depth limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pytest
import trio
from engine_harness import Harness, flow, heard, project
from trio.testing import MockClock

from ivr.flowlang.ir import NODE_KINDS
from ivr.runtime.engine import CallOutcome
from ivr.runtime.ports import CallEvent, Recording
from ivr.runtime.steps.subflow import MAX_DEPTH
from ivr.runtime.testing import (
    Fixture,
    MemoryCallLeg,
    MemoryCallRecords,
    QueueAnswer,
    VirtualWallClock,
)

# One node of every kind, in a row; each node id is its kind.
TOUR = flow(
    """
    flow: tour
    languages: [en]
    variables:
      n: {type: number, initial: 0}
      name: {type: string}
      code: {type: string}
      recording: {type: string}
    start: say
    nodes:
      say: {type: say, prompt: Welcome to the tour of every node, next: language}
      language: {type: language, language: en, next: log}
      log: {type: log, message: "touring {n}", next: set}
      set: {type: set, assign: {n: n + 1}, next: branch}
      branch:
        type: branch
        cases: [{if: n > 0, next: schedule}]
        else: hangup
      schedule: {type: schedule, calendar: desk, open: lookup, closed: lookup}
      lookup:
        type: lookup
        operation: get_name
        assign: {name: result.name}
        next: menu
        on_error: hangup
      menu:
        type: menu
        prompt: Press 1 to go on
        options: {"1": collect}
        on_no_input: hangup
        on_no_match: hangup
      collect:
        type: collect
        prompt: Enter a code then hash
        into: code
        next: confirm
        on_no_input: hangup
        on_invalid: hangup
      confirm:
        type: confirm
        prompt: Press 1 to confirm
        next: send
        on_no_input: hangup
      send: {type: send, channel: sms, to: call.caller, message: Thanks, next: subflow, on_error: hangup}
      subflow: {type: subflow, flow: child, next: record, on_error: hangup}
      record:
        type: record
        prompt: Leave a message after the tone
        into: recording
        max_length: 10s
        stop_key: false
        next: enqueue
        on_no_input: enqueue
      enqueue: {type: enqueue, queue: general, next: transfer}
      transfer: {type: transfer, to: "'sip:expert@127.0.0.1'", next: hangup, on_failed: hangup}
      hangup: {type: hangup, prompt: Goodbye from the tour}
    """
)
CHILD = flow(
    """
    flow: child
    languages: [en]
    start: inner
    nodes:
      inner: {type: say, prompt: Inside the child flow, barge_in: false, next: return}
      return: {type: return, outcome: done}
    """
)
SERVICE = """
service: tour
languages: [en]
operations:
  get_name: {backend: python, function: "x:y", params: [], returns: [name]}
queues:
  general: {skills: [general]}
calendars:
  desk:
    timezone: UTC
    hours:
      fri: [["09:00", "17:00"]]
channels:
  sms: {kind: sms}
"""
ANSWERS = {"menu": "1", "collect": "42#", "confirm": "1"}  # what the caller keys in each input node
WAIT = 10.0  # the lookup, the queue, the bridged transfer and the recording each take this long


@dataclass(eq=False)
class JournalRecords(MemoryCallRecords):
    """Memory records that also keep the order of starts, stored recordings and ends."""

    journal: list[str] = field(default_factory=list)

    async def call_started(self, call_id: str, *, flow: str, caller: str, dialed: str, at: datetime) -> None:
        self.journal.append("call_started")
        await super().call_started(call_id, flow=flow, caller=caller, dialed=dialed, at=at)

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None:
        await trio.sleep(0.5)  # a durable store takes time: the hang-up must not cut it
        self.journal.append(f"recording:{recording.ended_by}")
        await super().store_recording(call_id, recording, metadata)

    async def call_ended(self, call_id: str, *, how: str, at: datetime) -> None:
        self.journal.append(f"call_ended:{how}")
        await super().call_ended(call_id, how=how, at=at)


@dataclass
class Caller:
    """Answers the tour's input nodes and hangs up at node `target` in the `phase` given."""

    leg: MemoryCallLeg
    target: str | None
    phase: str
    reads_on_entry: int = 0
    prompts_on_entry: int = 0
    reached: bool = False  # the target node was entered (the call may be past it already)
    hung_up_at: float | None = None

    def hang_up(self) -> None:
        self.hung_up_at = trio.current_time()
        self.leg.hang_up()

    def on_event(self, event: CallEvent) -> None:
        if event.kind != "node_entered" or event.node is None:
            return
        if event.node == self.target and not self.reached:
            self.reached = True
            self.reads_on_entry, self.prompts_on_entry = self.leg.reads, len(self.leg.prompts)
        if event.node == self.target and self.phase == "entered":
            self.hang_up()  # at once, while the node runs
        elif event.node in ANSWERS and event.node != self.target:
            self.leg.press(ANSWERS[event.node])
        self.leg.poke()

    async def hang_up_in_phase(self) -> None:
        leg = self.leg
        await leg.wait_for(lambda: self.reached)
        if self.phase == "prompt":  # while the node's (first) prompt is playing
            await leg.wait_for(
                lambda: (
                    len(leg.prompts) > self.prompts_on_entry
                    and leg.prompts[self.prompts_on_entry].ended is None
                )
            )
            await trio.sleep(0.1)
        elif self.phase == "input":  # while the node waits for a key
            await leg.wait_for(lambda: leg.reads > self.reads_on_entry)
        elif self.phase == "wait":  # during the operation, queue, transfer, recording, child flow
            await trio.sleep(0.5 if self.target == "subflow" else 3)
        else:
            return
        self.hang_up()


def tour(records: MemoryCallRecords | None = None) -> Harness:
    harness = Harness(
        project(TOUR, CHILD, service_text=SERVICE),
        clock=VirtualWallClock(datetime.fromisoformat("2026-11-27T10:00:00+00:00")),
    )
    harness.records = records or JournalRecords()
    harness.operations.fixtures = {"get_name": [Fixture(result={"name": "Li"}, latency=WAIT)]}
    harness.routing.answers = {"general": QueueAnswer(wait=WAIT)}
    return harness


async def run_tour(harness: Harness, target: str | None, phase: str) -> tuple[Caller, CallOutcome]:
    leg = MemoryCallLeg(transfer_seconds=WAIT)
    leg.speak(1000)  # the caller talks through any recording, so it is never empty
    caller = Caller(leg, target, phase)
    assert isinstance(harness.records, MemoryCallRecords)
    harness.records.on_event = caller.on_event
    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller.hang_up_in_phase)
        outcome = await harness.run(leg, "tour")
        nursery.cancel_scope.cancel()
    return caller, outcome


async def test_the_tour_visits_every_node_kind_and_completes(autojump_clock: MockClock) -> None:
    harness = tour()
    caller, outcome = await run_tour(harness, None, "none")
    assert outcome.how == "completed" and caller.hung_up_at is None
    visited = {v.node for v in outcome.path}
    assert visited - {"inner"} == set(NODE_KINDS) == set(TOUR.nodes) | {"return"}
    assert heard(caller.leg)[-1] == "Goodbye from the tour"


HANGUPS = [
    ("say", "prompt"),
    ("language", "entered"),
    ("log", "entered"),
    ("set", "entered"),
    ("branch", "entered"),
    ("schedule", "entered"),
    ("lookup", "entered"),
    ("lookup", "wait"),
    ("menu", "prompt"),
    ("menu", "input"),
    ("collect", "prompt"),
    ("collect", "input"),
    ("confirm", "prompt"),
    ("confirm", "input"),
    ("send", "entered"),
    ("subflow", "wait"),
    ("return", "entered"),
    ("record", "prompt"),
    ("record", "wait"),
    ("enqueue", "wait"),
    ("transfer", "wait"),
    ("hangup", "prompt"),
]


def test_every_node_kind_has_a_hangup_case() -> None:
    assert {kind for kind, _ in HANGUPS} == set(NODE_KINDS)


@pytest.mark.parametrize(("kind", "phase"), HANGUPS, ids=[f"{k}-{p}" for k, p in HANGUPS])
async def test_hangup_in_every_node_kind_leaves_a_complete_record(
    autojump_clock: MockClock, kind: str, phase: str
) -> None:
    records = JournalRecords()
    harness = tour(records)
    caller, outcome = await run_tour(harness, kind, phase)
    assert caller.hung_up_at is not None and outcome.how == "caller_hangup"
    assert records.journal[0] == "call_started" and records.journal[-1] == "call_ended:caller_hangup"
    assert [j for j in records.journal if j.startswith("call_ended")] == ["call_ended:caller_hangup"]
    entered = [e.node for e in records.of("call-1", "node_entered")]
    assert kind in entered[-2:]  # the hang-up is seen at the next node boundary at the latest
    assert trio.current_time() - caller.hung_up_at < 1  # nothing was sat out after the hang-up
    if (kind, phase) == ("record", "wait"):
        assert records.journal[-2:] == ["recording:hangup", "call_ended:caller_hangup"]
        assert outcome.variables["recording"] == records.recordings[0].recording.recording_id


async def test_hangup_during_a_bridged_transfer_ends_the_call(autojump_clock: MockClock) -> None:
    harness = tour()
    caller, outcome = await run_tour(harness, "transfer", "wait")
    assert caller.leg.transfers[0].connected and outcome.how == "caller_hangup"


# -- failing operations and channels take their documented edges ---------------------------

FAILING = flow(
    """
    flow: failing
    languages: [en]
    variables:
      name: {type: string}
    start: fetch
    nodes:
      fetch:
        type: lookup
        operation: get_name
        assign: {name: result.name}
        next: notify
        on_error: fetch_failed
      fetch_failed: {type: say, prompt: Lookup failed, next: notify}
      notify: {type: send, channel: sms, to: call.caller, message: Hello, next: login, on_error: send_failed}
      send_failed: {type: say, prompt: Send failed, next: login}
      login: {type: subflow, flow: fragile, next: bye, on_error: login_failed}
      login_failed: {type: hangup, prompt: Login failed}
      bye: {type: hangup, prompt: Bye}
    """
)
FRAGILE = flow(
    """
    flow: fragile
    languages: [en]
    variables:
      name: {type: string}
    start: fetch
    nodes:
      fetch:
        type: lookup
        operation: get_name
        assign: {name: result.name}
        next: done
      done: {type: return}
    """
)


def failing(operation: Fixture, *, channel_down: bool = False) -> Harness:
    harness = Harness(project(FAILING, FRAGILE, service_text=SERVICE))
    harness.operations.fixtures = {"get_name": [operation]}
    if channel_down:
        harness.channels.failing = frozenset({"sms"})
    return harness


@pytest.mark.parametrize(
    ("fixture", "channel_down", "expected"),
    [
        (Fixture(result={"name": "Li"}), False, ["Bye"]),
        (Fixture(error="down"), False, ["Lookup failed", "Login failed"]),
        (Fixture(timeout=True), False, ["Lookup failed", "Login failed"]),  # no on_timeout: on_error
        (Fixture(result={"name": "Li"}), True, ["Send failed", "Bye"]),
    ],
    ids=["all-ok", "operation-error", "operation-timeout", "channel-down"],
)
async def test_failing_operations_and_channels_take_their_edges(
    autojump_clock: MockClock, fixture: Fixture, channel_down: bool, expected: list[str]
) -> None:
    harness = failing(fixture, channel_down=channel_down)
    leg = MemoryCallLeg()
    outcome = await harness.run(leg, "failing")
    assert heard(leg) == expected
    assert outcome.how == "completed" and harness.records.ended == {"call-1": "completed"}


async def test_operation_timeout_without_on_timeout_falls_back_to_on_error(autojump_clock: MockClock) -> None:
    harness = failing(Fixture(timeout=True, latency=2.0))
    outcome = await harness.run(MemoryCallLeg(), "failing")
    assert outcome.path[0].node == "fetch" and outcome.path[0].edge == "on_error"
    assert outcome.path[1].node == "fetch_failed"
    outcomes = [e.detail["outcome"] for e in harness.records.of("call-1", "operation")]
    assert outcomes == ["timeout", "timeout"]  # the lookup here, then the one in the subflow


async def test_operation_failing_inside_a_prompt_ends_the_call_as_failed(autojump_clock: MockClock) -> None:
    greet = flow(
        """
        flow: greet
        languages: [en]
        start: hello
        nodes:
          hello: {type: say, prompt: "Hello {get_name().name}", next: bye}
          bye: {type: hangup}
        """
    )
    harness = Harness(project(greet, service_text=SERVICE))
    harness.operations.fixtures = {"get_name": [Fixture(error="down")]}
    leg = MemoryCallLeg()
    outcome = await harness.run(leg)
    assert outcome.how == "failed" and heard(leg) == [harness.engine.fallback["en"]]
    assert harness.records.ended == {"call-1": "failed"}
    assert [e.detail["outcome"] for e in harness.records.of("call-1", "operation")] == ["error"]


# -- the subflow depth limit -------------------------------------------------------------

RECURSIVE = """
flow: deeper
languages: [en]
variables:
  depth: {type: number, initial: 0}
inputs:
  level: {type: number, required: false}
start: again
nodes:
  again:
    type: subflow
    flow: deeper
    inputs: {level: "default(level, 0) + 1"}
    next: back
    {on_error}
  too_deep: {type: return, outcome: too_deep}
  back: {type: return}
"""


async def test_subflow_recursion_beyond_the_limit_takes_on_error(autojump_clock: MockClock) -> None:
    deeper = flow(RECURSIVE.replace("{on_error}", "on_error: too_deep"))
    harness = Harness(project(deeper))
    outcome = await harness.run(MemoryCallLeg(), "deeper")
    assert outcome.how == "completed"
    again = [v for v in outcome.path if v.node == "again"]
    assert len(again) == MAX_DEPTH
    assert again[-1].edge == "on_error"  # the innermost call would nest too deep
    assert all(v.edge == "next" for v in again[:-1])
    assert harness.records.ended == {"call-1": "completed"}


async def test_subflow_recursion_beyond_the_limit_without_on_error_fails_the_call(
    autojump_clock: MockClock,
) -> None:
    deeper = flow(RECURSIVE.replace("{on_error}", ""))
    harness = Harness(project(deeper))
    leg = MemoryCallLeg()
    outcome = await harness.run(leg, "deeper")
    assert outcome.how == "failed" and "on_error" in (outcome.failure or "")
    assert heard(leg) == [harness.engine.fallback["en"]]
    assert harness.records.started and harness.records.ended == {"call-1": "failed"}
    assert len(harness.records.of("call-1", "node_entered")) == MAX_DEPTH


async def test_an_outbox_that_never_answers_takes_on_error(autojump_clock: MockClock) -> None:
    harness = failing(Fixture(result={"name": "Li"}))

    class SilentChannels:
        async def send(
            self, channel: str, to: str, message: str | None, document: object | None, **_: object
        ) -> str:
            await trio.sleep_forever()

    harness.channels = SilentChannels()  # type: ignore[assignment]
    leg = MemoryCallLeg()
    outcome = await harness.run(leg, "failing")
    assert heard(leg) == ["Send failed", "Bye"] and outcome.how == "completed"
    [message] = harness.records.of("call-1", "message")
    assert message.detail["error"] == "the outbox did not answer within 30 s"
