"""Global keys at run time (MockClock): goto, back (within a flow and into a calling flow,
never onto a confirm), repeat, keys alone in a collect, secret entries, and overrides."""

from __future__ import annotations

import trio
from engine_harness import Harness, flow, heard, project
from trio.testing import MockClock

from ivr.flowlang.ir import Project
from ivr.runtime.ports import CallEvent
from ivr.runtime.testing import MemoryCallLeg, MemoryCallRecords

SERVICE = """
service: keys
languages: [en]
global_keys:
  agent: {key: "0", goto: to_agent}
  back: {key: "*", action: back}
  repeat: {key: "#", action: repeat}
queues:
  general: {skills: [general]}
"""

MAIN = flow(
    """
    flow: main
    languages: [en]
    variables:
      code: {type: string, initial: ""}
    global_keys:
      agent: {goto: agent}
    start: main_menu
    nodes:
      main_menu:
        type: menu
        prompt: Main menu
        options: {"1": ask_code, "2": orders, "3": quiet_menu}
        max_retries: 1
        on_no_input: goodbye
        on_no_match: goodbye
      ask_code:
        type: collect
        prompt: Enter the six-digit code
        into: code
        min_length: 6
        max_length: 6
        terminator: false
        inter_digit_timeout: 4s
        next: read_code
        on_no_input: goodbye
        on_invalid: goodbye
      read_code:
        type: say
        prompt: "Code {code}"
        next: goodbye
      orders:
        type: subflow
        flow: orders
        outcomes: {agent: agent}
        next: main_menu
      quiet_menu:
        type: menu
        prompt: Quiet menu
        options: {"1": goodbye}
        global_keys: {agent: false, repeat: false}
        max_retries: 0
        on_no_input: goodbye
        on_no_match: no_match
      no_match:
        type: hangup
        prompt: Not an option
      agent:
        type: enqueue
        queue: general
        next: goodbye
      goodbye:
        type: hangup
        prompt: Goodbye
    """,
    "flows/main.yaml",
)

ORDERS = flow(
    """
    flow: orders
    languages: [en]
    variables:
      qty: {type: string, initial: ""}
      pin: {type: string, secret: true}
    start: ask_qty
    nodes:
      ask_qty:
        type: collect
        prompt: Enter the quantity then hash
        into: qty
        valid: number(qty) > 0
        next: ask_pin
        on_no_input: done
        on_invalid: done
      ask_pin:
        type: collect
        prompt: Enter your PIN then hash
        into: pin
        min_length: 6
        max_length: 6
        next: confirm_order
        on_no_input: done
        on_invalid: done
      confirm_order:
        type: confirm
        prompt: Buy? Press 1
        next: after_order
        on_no_input: done
      after_order:
        type: menu
        prompt: Order placed. 1 for another
        options: {"1": ask_qty}
        on_no_input: done
        on_no_match: done
      done:
        type: return
      to_agent:
        type: return
        outcome: agent
    """,
    "flows/orders.yaml",
)


def keys_project() -> Project:
    return project(MAIN, ORDERS, service_text=SERVICE)


class Caller:
    """Presses keys when the call waits at a given node (after its prompt)."""

    def __init__(self, leg: MemoryCallLeg) -> None:
        self.leg = leg
        self.entered: list[tuple[str, int]] = []  # node, reads so far when it was entered

    def on_event(self, event: CallEvent) -> None:
        if event.kind == "node_entered" and event.node:
            self.entered.append((event.node, self.leg.reads))
            self.leg.poke()

    async def run(self, steps: tuple[tuple[str, str], ...]) -> None:
        pressed_at = 0
        for node, keys in steps:
            await self.leg.wait_for(lambda n=node, p=pressed_at: self._waiting_at(n, p))  # type: ignore[misc]
            pressed_at = self.leg.reads
            self.leg.press(keys)

    def _waiting_at(self, node: str, pressed_at: int) -> bool:
        """The call is at `node` and reads a key it was not given yet."""
        if not self.entered or self.entered[-1][0] != node:
            return False
        return self.leg.reads > max(self.entered[-1][1], pressed_at)


async def call(harness: Harness, *steps: tuple[str, str]) -> tuple[MemoryCallLeg, list[str]]:
    leg = MemoryCallLeg(seconds_per_char=0)
    driver = Caller(leg)
    harness.records = MemoryCallRecords(on_event=driver.on_event)
    with trio.fail_after(3600):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(driver.run, steps)
            outcome = await harness.run(leg, "main")
            nursery.cancel_scope.cancel()
    return leg, [f"{v.flow}.{v.node}:{v.edge}" for v in outcome.path]


async def test_zero_in_a_menu_goes_where_the_flow_sends_its_agent_key(autojump_clock: MockClock) -> None:
    harness = Harness(keys_project())
    _, path = await call(harness, ("main_menu", "0"))
    assert path[:2] == ["main.main_menu:agent", "main.agent:next"]
    assert [r.queue for r in harness.routing.requests] == ["general"]
    pressed = [dict(e.detail) for e in harness.records.of("call-1", "input")]
    assert pressed == [{"outcome": "global_key", "key": "agent", "action": "goto"}]  # the name, not "0"


async def test_zero_in_a_subflow_takes_its_to_agent_node_and_the_agent_outcome(
    autojump_clock: MockClock,
) -> None:
    harness = Harness(keys_project())
    _, path = await call(harness, ("main_menu", "2"), ("ask_qty", "0#"))
    assert "orders.ask_qty:agent" in path and "main.orders:agent" in path
    assert [r.queue for r in harness.routing.requests] == ["general"]


async def test_repeat_plays_the_prompt_again_and_counts_no_try(autojump_clock: MockClock) -> None:
    leg, path = await call(
        Harness(keys_project()),
        ("main_menu", "9"),
        ("main_menu", "#"),
        ("main_menu", "#"),
        ("main_menu", "1"),
    )
    assert heard(leg)[:1] == ["Main menu"] and heard(leg).count("Main menu") == 4
    assert path[0] == "main.main_menu:1"  # one no-match (of two allowed), two repeats, then 1


async def test_back_goes_to_the_previous_menu_of_the_same_flow(autojump_clock: MockClock) -> None:
    _, path = await call(
        Harness(keys_project()),
        ("main_menu", "1"),
        ("ask_code", "*"),
        ("main_menu", "1"),
        ("ask_code", "600519"),
    )
    assert path[:4] == ["main.main_menu:1", "main.ask_code:back", "main.main_menu:1", "main.ask_code:next"]


async def test_back_from_a_subflow_ends_it_and_continues_in_the_calling_flow(
    autojump_clock: MockClock,
) -> None:
    leg, path = await call(
        Harness(keys_project()),
        ("main_menu", "2"),
        ("ask_qty", "*#"),
        ("main_menu", "1"),
        ("ask_code", "600519"),
    )
    assert path[:4] == ["main.main_menu:2", "main.orders:back", "orders.ask_qty:back", "main.main_menu:1"]
    assert heard(leg)[-1] == "Goodbye"


async def test_back_never_returns_to_a_confirmation(autojump_clock: MockClock) -> None:
    _, path = await call(
        Harness(keys_project()),
        ("main_menu", "2"),
        ("ask_qty", "100#"),
        ("ask_pin", "135790#"),
        ("confirm_order", "1"),
        ("after_order", "*"),
        ("ask_pin", "0#"),
    )
    # after_order -> back skips confirm_order (already confirmed) and lands on the PIN entry
    assert "orders.after_order:back" in path
    after = path[path.index("orders.after_order:back") + 1]
    assert after == "orders.ask_pin:agent"


async def test_back_with_nowhere_to_go_is_a_key_the_node_does_not_take(autojump_clock: MockClock) -> None:
    leg, path = await call(Harness(keys_project()), ("main_menu", "*"), ("main_menu", "*"))
    assert path == ["main.main_menu:on_no_match", "main.goodbye:None"]
    assert heard(leg)[-1] == "Goodbye"


async def test_a_node_can_turn_global_keys_off(autojump_clock: MockClock) -> None:
    leg, path = await call(Harness(keys_project()), ("main_menu", "3"), ("quiet_menu", "0"))
    assert path[:2] == ["main.main_menu:3", "main.quiet_menu:on_no_match"]
    assert heard(leg)[-1] == "Not an option"


async def test_zero_alone_in_a_collect_is_the_agent_key_after_the_pause(autojump_clock: MockClock) -> None:
    harness = Harness(keys_project())
    start = trio.current_time()
    _, path = await call(harness, ("main_menu", "1"), ("ask_code", "0"))
    assert path[1] == "main.ask_code:agent"
    assert trio.current_time() - start >= 4  # the inter-digit timeout ended the one-key entry


async def test_zero_as_the_first_digit_of_a_code_is_a_digit(autojump_clock: MockClock) -> None:
    leg, path = await call(Harness(keys_project()), ("main_menu", "1"), ("ask_code", "000001"))
    assert path[1] == "main.ask_code:next" and "Code 000001" in heard(leg)


async def test_a_global_key_after_digits_is_part_of_the_entry(autojump_clock: MockClock) -> None:
    _, path = await call(Harness(keys_project()), ("main_menu", "2"), ("ask_qty", "10#"), ("ask_pin", "0#"))
    assert path[2:4] == ["orders.ask_qty:next", "orders.ask_pin:agent"]  # "10" is a quantity


async def test_the_terminator_pressed_first_is_the_repeat_key(autojump_clock: MockClock) -> None:
    leg, path = await call(Harness(keys_project()), ("main_menu", "2"), ("ask_qty", "#"), ("ask_qty", "0#"))
    assert heard(leg).count("Enter the quantity then hash") == 2
    assert "orders.ask_qty:agent" in path


async def test_leaving_a_secret_entry_with_a_global_key_keeps_nothing_typed(
    autojump_clock: MockClock,
) -> None:
    harness = Harness(keys_project())
    leg, path = await call(harness, ("main_menu", "2"), ("ask_qty", "100#"), ("ask_pin", "0#"))
    assert "orders.ask_pin:agent" in path
    assert leg.secret_spans == 1 and not leg.secret_active  # the secret span opened and closed
    events = [dict(e.detail) for e in harness.records.of("call-1", "input")]
    assert {"outcome": "global_key", "key": "agent", "action": "goto"} in events
    assert all("0" not in str(e.get("key", "")) for e in events if e.get("outcome") == "global_key")
    [request] = harness.routing.requests
    assert request.path[-1] == "orders.ask_pin:agent"  # the agent sees that, never the digits
    assert "ivr_context" not in request.data  # neither flow declares a context


async def test_pin_digits_that_start_with_zero_are_a_pin(autojump_clock: MockClock) -> None:
    harness = Harness(keys_project())
    _, path = await call(
        harness, ("main_menu", "2"), ("ask_qty", "100#"), ("ask_pin", "013579#"), ("confirm_order", "3")
    )
    assert "orders.ask_pin:next" in path
    entered = [dict(e.detail) for e in harness.records.of("call-1", "input") if e.node == "ask_pin"]
    assert entered == [{"outcome": "match", "variable": "pin", "value": "***"}]
