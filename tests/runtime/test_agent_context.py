"""What an agent is told at `enqueue` (`ivr_context`): each flow's declared context, taken
when a subflow ends and again for the running flows; empty or unworkable values left out;
secrets masked even when a flow copies one at run time; and the caller's way through the
menus, collects and confirms (the request's `path`)."""

from __future__ import annotations

import trio
from engine_harness import Harness, flow, project
from trio.testing import MockClock

from ivr.runtime.testing import Fixture, FixtureOperations, MemoryCallLeg

MAIN = flow(
    """
    flow: main
    languages: [en]
    variables:
      wanted: {type: string, initial: ""}
    context:
      service: {value: wanted, label: {en: Service asked for}}
    start: main_menu
    nodes:
      main_menu:
        type: menu
        prompt: Press 1 for orders
        options: {"1": orders}
        on_no_input: bye
        on_no_match: bye
      orders:
        type: subflow
        flow: orders
        next: agent
      agent:
        type: enqueue
        queue: general
        data: {reason: "'help'"}
        next: bye
      bye: {type: hangup}
    """,
    "flows/main.yaml",
)

ORDERS = flow(
    """
    flow: orders
    languages: [en]
    variables:
      code: {type: string, initial: ""}
      quote: {type: map, initial: {}}
      pin: {type: string, secret: true}
      note: {type: string, initial: ""}
    context:
      code: code
      name: quote.name
      empty: "''"
      note: {value: note, label: {en: Note}}
    start: ask_code
    nodes:
      ask_code:
        type: collect
        prompt: Code
        into: code
        min_length: 6
        max_length: 6
        terminator: false
        next: ask_pin
        on_no_input: done
        on_invalid: done
      ask_pin:
        type: collect
        prompt: PIN
        into: pin
        min_length: 6
        max_length: 6
        next: fetch
        on_no_input: done
        on_invalid: done
      fetch:
        type: lookup
        operation: echo
        args: {value: "'x'"}
        assign: {note: "concat('pin was ', result.value)"}
        next: done
        on_error: done
      done: {type: return}
    """,
    "flows/orders.yaml",
)


async def _run(code: str, pin: str | None = None) -> Harness:
    operations = FixtureOperations({"echo": [Fixture(result={"value": "246813"})]})
    harness = Harness(project(MAIN, ORDERS), operations)
    leg = MemoryCallLeg(seconds_per_char=0)

    async def caller() -> None:
        await leg.wait_for(lambda: leg.reads >= 1)
        leg.press("1")
        await leg.wait_for(lambda: leg.reads >= 2)
        leg.press(code)
        if pin is not None:
            await leg.wait_for(lambda: leg.secret_active)
            leg.press(pin)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller)
        await harness.run(leg, "main")
    return harness


async def test_a_subflow_the_caller_left_still_tells_the_agent_what_they_did(
    autojump_clock: MockClock,
) -> None:
    harness = await _run("600519")  # no PIN: the subflow ends by no input
    [request] = harness.routing.requests
    assert request.data["reason"] == "help"
    context = request.data["ivr_context"]
    assert isinstance(context, dict)
    fields = [(f["flow"], f["name"], f["value"]) for f in context["fields"]]
    # `name` could not be worked out (the quote is empty), `empty` and `note` are empty: left out
    assert fields == [("orders", "code", "600519")]
    assert request.path == ("main.main_menu:1", "orders.ask_pin:on_no_input")  # a code entered is context


async def test_a_secret_copied_at_run_time_is_masked_on_the_agents_screen(autojump_clock: MockClock) -> None:
    # the back office echoes the PIN's digits into `note`: the checker cannot know, masking does
    harness = await _run("600519", "246813#")
    [request] = harness.routing.requests
    context = request.data["ivr_context"]
    assert isinstance(context, dict)
    note = next(f for f in context["fields"] if f["name"] == "note")
    assert note == {"flow": "orders", "name": "note", "label": {"en": "Note"}, "value": "pin was ***"}
    assert "246813" not in str(request.data)
