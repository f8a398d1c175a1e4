"""The engine on MockClock (`autojump_clock`): menus, collects, timers, hang-ups, the call boundary."""

from __future__ import annotations

import logging

import pytest
import trio
from engine_harness import Harness, flow, heard, project
from trio.testing import MockClock

from ivr.runtime.testing import Fixture, MemoryCallLeg

MENU = flow(
    """
    flow: menu_demo
    languages: [en]
    start: main
    nodes:
      main:
        type: menu
        prompt: For quotes press 1
        retry_prompt: Press 1 for quotes
        no_input_prompt: I did not hear a key
        no_match_prompt: That is not an option
        timeout: 5s
        max_retries: 2
        options: {"1": quotes}
        on_no_input: agent
        on_no_match: agent
      quotes: {type: hangup, prompt: Quotes}
      agent: {type: hangup, prompt: Agent}
    """
)


async def test_menu_retries_twice_then_takes_on_no_input(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg()
    start = trio.current_time()
    outcome = await Harness(project(MENU)).run(leg)
    assert heard(leg) == [
        "For quotes press 1",
        "I did not hear a key",
        "Press 1 for quotes",
        "I did not hear a key",
        "Press 1 for quotes",
        "Agent",
    ]
    assert [v.node for v in outcome.path] == ["main", "agent"]
    assert outcome.path[0].edge == "on_no_input"
    assert outcome.how == "completed"
    assert trio.current_time() - start >= 15  # three 5 s first-digit timeouts, in virtual time


async def test_menu_no_match_plays_no_match_prompt_then_retry_prompt(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg()
    leg.press("7")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_after_prompt, leg, 2, "1")
        outcome = await Harness(project(MENU)).run(leg)
    assert heard(leg)[:3] == ["For quotes press 1", "That is not an option", "Press 1 for quotes"]
    assert outcome.last_node == "quotes"


async def _press_after_prompt(leg: MemoryCallLeg, prompts: int, keys: str) -> None:
    await leg.wait_for(lambda: len(leg.prompts) > prompts)
    leg.press(keys)


async def test_keypress_cuts_prompt_when_barge_in(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=1.0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_at, leg, 2.0, "1")
        await Harness(project(MENU)).run(leg)
    assert leg.prompts[0].cut
    assert leg.prompts[0].ended is not None and leg.prompts[0].ended - leg.prompts[
        0
    ].started == pytest.approx(2.0)


async def _press_at(leg: MemoryCallLeg, delay: float, keys: str) -> None:
    await trio.sleep(delay)
    leg.press(keys)


COLLECT = flow(
    """
    flow: order
    languages: [en]
    variables:
      price: {type: string}
      pin: {type: string, secret: true}
    start: welcome
    nodes:
      welcome:
        type: say
        prompt: Welcome to the order line, please listen carefully
        next: ask_price
      ask_price:
        type: collect
        prompt: Enter the price then hash
        into: price
        min_length: 2
        max_length: 8
        terminator: "#"
        first_digit_timeout: 6s
        inter_digit_timeout: 3s
        overall_timeout: 30s
        star_decimal: true
        valid: number(price) > 1
        invalid_prompt: That price is not valid
        max_retries: 1
        next: ask_pin
        on_no_input: bye
        on_invalid: bye
      ask_pin:
        type: collect
        prompt: Your PIN
        into: pin
        min_length: 4
        max_length: 4
        next: bye
        on_no_input: bye
        on_invalid: bye
      bye: {type: hangup, prompt: "Price {price}"}
    """
)


async def test_digit_during_prompt_is_kept_for_next_collect(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_at, leg, 0.5, "12*35#1234")
        outcome = await Harness(project(COLLECT)).run(leg)
    assert leg.prompts[0].cut  # the welcome was cut by the first key
    assert outcome.variables["price"] == "12.35"
    assert heard(leg)[-1] == "Price 12.35"


async def test_collect_ends_after_inter_digit_timeout_and_judges_min_length(
    autojump_clock: MockClock,
) -> None:
    leg = MemoryCallLeg()
    leg.press("5")  # one digit, then silence: shorter than min_length 2, so invalid
    harness = Harness(project(COLLECT))
    outcome = await harness.run(leg)
    assert "That price is not valid" in heard(leg)
    assert outcome.path[1].edge == "on_no_input"  # second try: nothing typed at all


async def test_collect_validity_expression_sees_the_collected_value(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg()
    leg.press("0*5#")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_after_prompt, leg, 2, "30#")
        outcome = await Harness(project(COLLECT)).run(leg)
    assert "That price is not valid" in heard(leg)
    assert outcome.variables["price"] == "30"


async def test_secret_entry_is_masked_in_records_and_outcome(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg()
    harness = Harness(project(COLLECT))
    leg.press("20#")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_after_prompt, leg, 2, "4321")
        outcome = await harness.run(leg)
    assert heard(leg)[2] == "Your PIN"
    assert outcome.variables["pin"] == "***"
    assert leg.secret_spans == 1 and not leg.secret_active
    assert "4321" not in repr(harness.records.events)
    inputs = [dict(e.detail) for e in harness.records.of("call-1", "input") if e.node == "ask_pin"]
    assert inputs == [{"outcome": "match", "variable": "pin", "value": "***"}]


async def test_type_ahead_before_a_secret_entry_is_dropped(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg()
    leg.press("20#4321")  # the PIN typed before its prompt: dropped, the caller must key it again
    outcome = await Harness(project(COLLECT)).run(leg)
    assert outcome.path[2].edge == "on_no_input"


SLOW = flow(
    """
    flow: slow
    languages: [en]
    variables:
      code: {type: string}
    start: ask
    nodes:
      ask:
        type: collect
        prompt: Code
        into: code
        max_length: 20
        terminator: "#"
        inter_digit_timeout: 3s
        overall_timeout: 9s
        next: bye
        on_no_input: bye
        on_invalid: bye
      bye: {type: hangup}
    """
)


async def test_overall_timeout_ends_a_slow_entry_and_keeps_its_keys(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=0)

    async def slow_caller() -> None:
        while True:  # a key every 2.5 s never trips the 3 s inter-digit timeout
            await trio.sleep(2.5)
            leg.press("9")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(slow_caller)
        outcome = await Harness(project(SLOW)).run(leg)
        nursery.cancel_scope.cancel()
    assert outcome.variables["code"] == "999"


async def test_terminator_after_a_full_length_entry_is_not_left_as_type_ahead(
    autojump_clock: MockClock,
) -> None:
    leg = MemoryCallLeg()
    leg.press("12345678#")
    harness = Harness(project(COLLECT))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_after_prompt, leg, 2, "4321")
        outcome = await harness.run(leg)
    assert outcome.variables["price"] == "12345678" and outcome.variables["pin"] == "***"


LOOKUP = flow(
    """
    flow: quotes
    languages: [en]
    variables:
      name: {type: string}
    start: fetch
    nodes:
      fetch:
        type: lookup
        operation: get_quote
        args: {code: "'600519'"}
        assign: {name: result.name}
        next: read
        on_error: sorry
        on_timeout: slow
      read: {type: hangup, prompt: "{name}"}
      sorry: {type: hangup, prompt: Sorry}
      slow: {type: hangup, prompt: Slow}
    """
)
SERVICE = """
service: demo
languages: [en]
operations:
  get_quote: {backend: python, function: "x:y", params: [code], returns: [name]}
"""


async def test_lookup_assigns_result_fields(autojump_clock: MockClock) -> None:
    harness = Harness(project(LOOKUP, service_text=SERVICE))
    harness.operations.fixtures = {"get_quote": [Fixture(result={"name": "Moutai"})]}
    leg = MemoryCallLeg()
    await harness.run(leg)
    assert heard(leg) == ["Moutai"]
    [op] = harness.records.of("call-1", "operation")
    assert op.detail["outcome"] == "ok" and op.detail["args"] == {"code": "600519"}


@pytest.mark.parametrize(
    ("fixture", "spoken", "outcome"),
    [(Fixture(timeout=True), "Slow", "timeout"), (Fixture(error="down"), "Sorry", "error")],
)
async def test_lookup_failures_take_their_edges(
    autojump_clock: MockClock, fixture: Fixture, spoken: str, outcome: str
) -> None:
    harness = Harness(project(LOOKUP, service_text=SERVICE))
    harness.operations.fixtures = {"get_quote": [fixture]}
    leg = MemoryCallLeg()
    await harness.run(leg)
    assert heard(leg) == [spoken]
    assert harness.records.of("call-1", "operation")[0].detail["outcome"] == outcome


async def test_hangup_during_lookup_records_caller_hangup(autojump_clock: MockClock) -> None:
    harness = Harness(project(LOOKUP, service_text=SERVICE))
    harness.operations.fixtures = {"get_quote": [Fixture(result={"name": "x"}, latency=10.0)]}
    leg = MemoryCallLeg()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_hang_up_at, leg, 1.0)
        outcome = await harness.run(leg)
    assert outcome.how == "caller_hangup"
    assert harness.records.ended == {"call-1": "caller_hangup"}
    assert trio.current_time() < 5  # the lookup was cancelled, not waited for
    assert harness.records.of("call-1", "operation")[0].detail["outcome"] == "cancelled"


WRITING_SERVICE = """
service: demo
languages: [en]
operations:
  get_quote:
    backend: python
    function: "x:y"
    params: [code]
    returns: [name]
    timeout: 30s
    idempotency_key: code
"""


async def test_hangup_during_an_idempotent_operation_lets_it_finish_and_records_it(
    autojump_clock: MockClock,
) -> None:
    """An order or a transfer (an operation with an idempotency key) is never left half-way
    by a hang-up: it runs to its end, its outcome is recorded, then the call ends."""
    harness = Harness(project(LOOKUP, service_text=WRITING_SERVICE))
    harness.operations.fixtures = {"get_quote": [Fixture(result={"name": "x"}, latency=10.0)]}
    leg = MemoryCallLeg()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_hang_up_at, leg, 1.0)
        outcome = await harness.run(leg)
    assert outcome.how == "caller_hangup"
    assert trio.current_time() >= 10
    assert harness.records.of("call-1", "operation")[0].detail["outcome"] == "ok"
    assert harness.records.ended == {"call-1": "caller_hangup"}


async def _hang_up_at(leg: MemoryCallLeg, delay: float) -> None:
    await trio.sleep(delay)
    leg.hang_up()


async def test_hangup_during_menu_records_caller_hangup(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg()
    harness = Harness(project(MENU))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_hang_up_at, leg, 3.0)
        outcome = await harness.run(leg)
    assert outcome.how == "caller_hangup" and harness.records.ended["call-1"] == "caller_hangup"


BUGGY = flow(
    """
    flow: buggy
    languages: [en]
    variables:
      n: {type: number, initial: 0}
    start: divide
    nodes:
      divide:
        type: set
        assign: {n: "1 / n"}
        next: done
      done: {type: hangup, prompt: Done}
    """,
    file="flows/buggy.yaml",
)


async def test_a_bug_in_one_call_fails_that_call_only(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    harness = Harness(project(BUGGY, MENU))
    bad, good = MemoryCallLeg(call_id="bad"), MemoryCallLeg(call_id="good")
    good.press("1")
    outcomes = {}

    async def run(leg: MemoryCallLeg, name: str) -> None:
        outcomes[leg.call_id] = await harness.run(leg, name)

    with caplog.at_level(logging.ERROR, logger="ivr.runtime.engine"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, bad, "buggy")
            nursery.start_soon(run, good, "menu_demo")
    assert outcomes["bad"].how == "failed" and outcomes["good"].how == "completed"
    assert heard(bad) == [harness.engine.fallback["en"]]
    assert bad.flow_hung_up
    assert "flows/buggy.yaml:8" in caplog.text and "'divide'" in caplog.text
    assert harness.records.ended == {"bad": "failed", "good": "completed"}


async def test_missing_failure_edge_ends_with_fallback(autojump_clock: MockClock) -> None:
    no_edges = flow(
        """
        flow: strict
        languages: [en]
        start: ask
        nodes:
          ask:
            type: menu
            prompt: Press 1
            max_retries: 0
            options: {"1": bye}
          bye: {type: hangup}
        """
    )
    leg = MemoryCallLeg()
    outcome = await Harness(project(no_edges)).run(leg)
    assert outcome.how == "failed" and "on_no_input" in (outcome.failure or "")
    assert heard(leg)[-1].startswith("Sorry")
