"""Plays one `FlowTest` against its project on trio's MockClock and judges the result.

The call runs in one task on the in-memory ports; the script runs in another, acting as
the caller (see docs/testing.md for each step's timing). With `autojump_threshold=0` a
30-second timeout costs no real time. The result keeps the prompts heard, the failing step
and the path taken, for the report and for coverage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import trio
import trio.testing

from ivr.flowlang.diagnostics import did_you_mean
from ivr.flowlang.ir import Flow, Project
from ivr.runtime.campaigns.trial import as_declared_type, trial_call
from ivr.runtime.context import CallPorts, Visit
from ivr.runtime.engine import CallOutcome, Engine
from ivr.runtime.flowtest.checks import judge
from ivr.runtime.flowtest.model import Fixtures, FlowTest, Step
from ivr.runtime.ports import CallEvent, OutboundCall, QueueRequest
from ivr.runtime.testing import (
    FixtureOperations,
    MemoryCallLeg,
    MemoryCallRecords,
    MemoryChannels,
    ScriptedRouting,
    VirtualWallClock,
)


class StepFailed(Exception):
    """A script step could not be satisfied; the message says what was expected."""


@dataclass
class CaseResult:
    test: FlowTest
    failures: list[str] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    failed_step: Step | None = None
    failed_prompt: int | None = None
    path: tuple[Visit, ...] = ()
    seconds: float = 0.0
    queued: list[QueueRequest] = field(default_factory=list)  # what each queue was asked (screen data)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class _Call:
    """The live call as the script sees it."""

    leg: MemoryCallLeg
    nodes: list[str] = field(default_factory=list)
    outcome: CallOutcome | None = None
    heard_cursor: int = 0
    node_cursor: int = 0

    def on_event(self, event: CallEvent) -> None:
        if event.kind == "node_entered" and event.node:
            self.nodes.append(event.node)
            self.leg.poke()


def fixture_channels(project: Project, fixtures: Fixtures) -> MemoryChannels:
    """The message channels of a test or a simulation: the service's channels, answering
    as the fixtures say (by default every message is queued and sent at once)."""
    declared = frozenset(project.service.channels) if project.service else None
    return MemoryChannels(
        failing=fixtures.failing_channels, deliveries=fixtures.deliveries, channels=declared
    )


def run_case(project: Project, test: FlowTest) -> CaseResult:
    """Run one test in its own trio run, on a MockClock."""
    result = CaseResult(test)
    clock = trio.testing.MockClock(autojump_threshold=0)
    trio.run(_run, project, test, result, clock=clock)
    return result


async def _run(project: Project, test: FlowTest, result: CaseResult) -> None:
    fixtures = test.fixtures
    leg = MemoryCallLeg(
        "test-call", test.caller, test.number or "", transfer_results=dict(fixtures.transfers)
    )
    live = _Call(leg)
    operations = FixtureOperations({k: list(v) for k, v in fixtures.operations.items()})
    records = MemoryCallRecords(on_event=live.on_event)
    channels = fixture_channels(project, fixtures)
    routing = ScriptedRouting(dict(fixtures.queues))
    ports = CallPorts(operations, channels, routing, records, VirtualWallClock(test.at))
    engine = Engine(project, ports)
    flow = test.flow or engine.flow_for_number(test.number or "")
    if flow is None or flow not in project.flows:
        if test.flow is not None:
            hint = did_you_mean(test.flow, project.flows) or f"its flows: {', '.join(sorted(project.flows))}"
            result.failures.append(f"{test.span}: no flow '{test.flow}' in the project ({hint})")
        else:
            result.failures.append(f"{test.span}: the service answers no number {test.number}")
        return
    unknown = unknown_operations(project, fixtures.operations)
    if unknown:
        result.failures.extend(f"{test.span}: {problem}" for problem in unknown)
        return
    languages = project.flows[flow].languages
    if test.language is not None and test.language not in languages:
        hint = did_you_mean(test.language, languages) or f"it has {', '.join(languages)}"
        result.failures.append(f"{test.span}: flow '{flow}' has no language '{test.language}' ({hint})")
        return
    inputs, problems = flow_inputs(project.flows[flow], test.inputs)
    outbound, more = _outbound(project.flows[flow], test)
    problems += more
    if problems:
        result.failures.extend(f"{test.span}: {problem}" for problem in problems)
        return
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_call_task, engine, live, flow, test.language, inputs, outbound)
        await _drive(live, test, result)
        await _wait_for_end(live, test, result, nursery.cancel_scope)
    result.heard = [p.text for p in leg.prompts]
    result.queued = list(routing.requests)
    result.seconds = trio.current_time() - start
    if live.outcome is not None:
        result.path = live.outcome.path
        if not result.failures:
            result.failures.extend(judge(test, live.outcome, operations, channels, routing, leg, records))


def unknown_operations(project: Project, fixtures: Mapping[str, object]) -> list[str]:
    """Fixtures for operations the service does not declare (a typo would otherwise leave
    the real operation without an answer, silently)."""
    declared = project.service.operations if project.service else {}
    problems = []
    for name in fixtures:
        if name not in declared:
            hint = did_you_mean(name, declared) or f"declared: {', '.join(sorted(declared)) or '(none)'}"
            problems.append(
                f"the fixtures answer operation '{name}', which the service does not declare ({hint})"
            )
    return problems


def flow_inputs(flow: Flow, given: Mapping[str, object]) -> tuple[dict[str, object], list[str]]:
    """A test's `inputs:` checked against the flow's declared inputs: every name declared,
    every required input given. YAML scalars are read as the declared type (an unquoted
    31000001 into a string input is "31000001"; numbers are exact decimals)."""
    declared = {d.name: d for d in flow.inputs}
    values: dict[str, object] = {}
    problems: list[str] = []
    for name, value in given.items():
        decl = declared.get(name)
        if decl is None:
            hint = did_you_mean(name, list(declared)) or f"its inputs: {', '.join(declared) or '(none)'}"
            problems.append(f"flow '{flow.name}' has no input '{name}' ({hint})")
            continue
        values[name] = as_declared_type(value, decl.type)
    for decl in flow.inputs:
        if decl.required and decl.name not in given:
            problems.append(f"flow '{flow.name}' needs the input '{decl.name}': give it under `inputs:`")
    return values, problems


async def _call_task(
    engine: Engine,
    live: _Call,
    flow: str,
    language: str | None,
    inputs: Mapping[str, object],
    outbound: OutboundCall | None,
) -> None:
    live.outcome = await engine.run_call(live.leg, flow, language=language, inputs=inputs, outbound=outbound)
    live.leg.poke()


def _outbound(flow: Flow, test: FlowTest) -> tuple[OutboundCall | None, list[str]]:
    """The outbound call a test gives an outbound flow (`outbound:`), checked."""
    given = test.outbound
    if given is None:
        if flow.outbound is not None:
            return None, [
                f"flow '{flow.name}' is an outbound flow: give the test `outbound: {{contact: ...}}`"
            ]
        return None, []
    return trial_call(
        flow, given.contact, answered_by=given.answered_by, campaign=given.campaign, attempt=given.attempt
    )


async def _drive(live: _Call, test: FlowTest, result: CaseResult) -> None:
    for step in test.script:
        try:
            with trio.fail_after(test.timeout):
                await _perform(live, step)
        except (StepFailed, trio.TooSlowError) as problem:
            message = str(problem) or f"nothing happened for {test.timeout:g} s"
            result.failures.append(f"{step.span}: step `{step.describe()}`: {message}")
            result.failed_step = step
            result.failed_prompt = live.heard_cursor
            live.leg.hang_up()
            return


async def _wait_for_end(live: _Call, test: FlowTest, result: CaseResult, scope: trio.CancelScope) -> None:
    with trio.move_on_after(test.timeout):
        await live.leg.wait_for(lambda: live.outcome is not None)
    if live.outcome is None:
        last = live.nodes[-1] if live.nodes else "?"
        result.failures.append(
            f"the call was still running {test.timeout:g} s after the script (at node '{last}')"
        )
        live.leg.hang_up()
        scope.cancel()


async def _perform(live: _Call, step: Step) -> None:
    leg = live.leg
    match step.action:
        case "press":
            _alive(live, step)
            leg.press(str(step.value))
        case "silence":
            await trio.sleep(float(step.value or 0))
        case "speak":
            leg.speak(float(step.value or 0))
            await trio.sleep(float(step.value or 0))
        case "hangup":
            leg.hang_up()
        case "expect" | "barge_in":
            await _next_prompt(live, step)
        case "expect_node":
            await leg.wait_for(
                lambda: step.value in live.nodes[live.node_cursor :] or live.outcome is not None
            )
            if step.value not in live.nodes[live.node_cursor :]:
                raise StepFailed(f"the call ended without reaching node '{step.value}'")
            live.node_cursor += live.nodes[live.node_cursor :].index(str(step.value)) + 1


async def _next_prompt(live: _Call, step: Step) -> None:
    leg, index = live.leg, live.heard_cursor
    await leg.wait_for(lambda: len(leg.prompts) > index or live.outcome is not None)
    if len(leg.prompts) <= index:
        raise StepFailed("the call ended before this prompt")
    live.heard_cursor += 1
    prompt = leg.prompts[index]
    if step.action == "barge_in":
        leg.press(str(step.value))
        return
    await leg.wait_for(lambda: prompt.ended is not None or live.outcome is not None)
    if not re.search(str(step.value), prompt.text):
        raise StepFailed(f"expected a prompt matching /{step.value}/, heard {prompt.text!r}")


def _alive(live: _Call, step: Step) -> None:
    if live.outcome is not None:
        raise StepFailed(f"the call had already ended ({live.outcome.how}) when the caller pressed keys")
