"""`confirm` and `collect` on MockClock: keys, retries, star_decimal and the collect timers."""

from __future__ import annotations

import pytest
import trio
from engine_harness import Harness, flow, heard, project
from trio.testing import MockClock

from ivr.runtime.testing import MemoryCallLeg

CONFIRM = flow(
    """
    flow: confirm_demo
    languages: [en]
    start: check
    nodes:
      check:
        type: confirm
        prompt: Buy 100 shares? 1 to confirm, 2 to re-enter, 3 to cancel
        retry_prompt: Press 1, 2 or 3
        no_input_prompt: I did not hear a key
        no_match_prompt: That is not an option
        timeout: 6s
        max_retries: 2
        next: placed
        on_reenter: again
        on_cancel: cancelled
        on_no_input: not_confirmed
      placed: {type: hangup, prompt: Placed}
      again: {type: hangup, prompt: Again}
      cancelled: {type: hangup, prompt: Cancelled}
      not_confirmed: {type: hangup, prompt: Not confirmed}
    """
)


async def _press_when_reading(leg: MemoryCallLeg, reads: int, keys: str) -> None:
    """Press once the engine has asked for its `reads`-th key (after the prompt played)."""
    await leg.wait_for(lambda: leg.reads >= reads)
    leg.press(keys)


@pytest.mark.parametrize(
    ("key", "edge", "spoken"),
    [("1", "next", "Placed"), ("2", "on_reenter", "Again"), ("3", "on_cancel", "Cancelled")],
)
async def test_confirm_key_takes_its_edge(
    autojump_clock: MockClock, key: str, edge: str, spoken: str
) -> None:
    leg = MemoryCallLeg()
    harness = Harness(project(CONFIRM))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_when_reading, leg, 1, key)
        outcome = await harness.run(leg)
    assert outcome.path[0].edge == edge and heard(leg)[-1] == spoken
    [accepted] = harness.records.of("call-1", "input")
    assert dict(accepted.detail) == {"outcome": "match", "key": key}


async def test_confirm_retries_no_input_then_takes_on_no_input(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=0)
    harness = Harness(project(CONFIRM))
    outcome = await harness.run(leg)
    assert heard(leg) == [
        "Buy 100 shares? 1 to confirm, 2 to re-enter, 3 to cancel",
        "I did not hear a key",
        "Press 1, 2 or 3",
        "I did not hear a key",
        "Press 1, 2 or 3",
        "Not confirmed",
    ]
    assert outcome.path[0].edge == "on_no_input"
    assert trio.current_time() == pytest.approx(18)  # three 6 s timeouts
    tries = [dict(e.detail) for e in harness.records.of("call-1", "input")]
    assert tries == [{"outcome": "no_input", "attempt": n} for n in (1, 2, 3)]


async def test_confirm_wrong_key_replays_retry_prompt_then_cancels(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg()
    harness = Harness(project(CONFIRM))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_when_reading, leg, 1, "7")
        nursery.start_soon(_press_when_reading, leg, 2, "3")
        outcome = await harness.run(leg)
    assert heard(leg) == [
        "Buy 100 shares? 1 to confirm, 2 to re-enter, 3 to cancel",
        "That is not an option",
        "Press 1, 2 or 3",
        "Cancelled",
    ]
    assert outcome.path[0].edge == "on_cancel"
    no_match = harness.records.of("call-1", "input")[0]
    assert dict(no_match.detail) == {"outcome": "no_match", "attempt": 1}


async def test_confirm_wrong_keys_on_every_try_are_never_taken_as_yes(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg()
    async with trio.open_nursery() as nursery:
        for read in (1, 2, 3):
            nursery.start_soon(_press_when_reading, leg, read, "9")
        outcome = await Harness(project(CONFIRM)).run(leg)
    assert outcome.path[0].edge == "on_no_input" and heard(leg)[-1] == "Not confirmed"


async def test_confirm_key_typed_ahead_cuts_the_prompt_and_answers(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=1.0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_at, leg, 2.0, "1")
        outcome = await Harness(project(CONFIRM)).run(leg)
    assert leg.prompts[0].cut and trio.current_time() < 10  # the long read-back was not waited out
    assert outcome.last_node == "placed"


async def test_confirm_without_on_reenter_does_not_offer_the_reenter_key(autojump_clock: MockClock) -> None:
    yes_or_cancel = flow(
        """
        flow: yes_or_cancel
        languages: [en]
        start: check
        nodes:
          check:
            type: confirm
            prompt: 1 to confirm, 3 to cancel
            max_retries: 1
            next: placed
            on_cancel: cancelled
            on_no_input: cancelled
          placed: {type: hangup, prompt: Placed}
          cancelled: {type: hangup, prompt: Cancelled}
        """
    )
    leg = MemoryCallLeg()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_when_reading, leg, 1, "2")  # not offered: a no-match try
        nursery.start_soon(_press_when_reading, leg, 2, "1")
        outcome = await Harness(project(yes_or_cancel)).run(leg)
    assert outcome.how == "completed" and outcome.last_node == "placed"


async def _press_at(leg: MemoryCallLeg, delay: float, keys: str) -> None:
    await trio.sleep(delay)
    leg.press(keys)


PRICE = flow(
    """
    flow: price
    languages: [en]
    variables:
      price: {type: string}
    start: ask
    nodes:
      ask:
        type: collect
        prompt: Price, star for the point, then hash
        invalid_prompt: That price is not valid
        into: price
        min_length: 1
        max_length: 8
        star_decimal: true
        max_retries: 1
        next: done
        on_no_input: none
        on_invalid: invalid
      done: {type: hangup, prompt: "Price {price}"}
      none: {type: hangup, prompt: No price}
      invalid: {type: hangup, prompt: Invalid}
    """
)


@pytest.mark.parametrize(
    ("keys", "price"),
    [("12*35#", "12.35"), ("*5#", "0.5"), ("1500#", "1500"), ("0*05#", "0.05")],
)
async def test_collect_star_decimal_reads_the_star_as_a_point(
    autojump_clock: MockClock, keys: str, price: str
) -> None:
    leg = MemoryCallLeg()
    leg.press(keys)
    outcome = await Harness(project(PRICE)).run(leg)
    assert outcome.variables["price"] == price and heard(leg)[-1] == f"Price {price}"


@pytest.mark.parametrize("keys", ["1*2*3#", "12*#", "*#"])
async def test_collect_star_decimal_malformed_number_is_invalid_then_retried(
    autojump_clock: MockClock, keys: str
) -> None:
    leg = MemoryCallLeg()
    leg.press(keys)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_when_reading, leg, len(keys) + 1, "9*5#")
        outcome = await Harness(project(PRICE)).run(leg)
    assert heard(leg)[1:3] == ["That price is not valid", "Price, star for the point, then hash"]
    assert outcome.variables["price"] == "9.5"


async def test_collect_two_points_on_every_try_takes_on_invalid(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg()
    leg.press("1**2#")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_press_when_reading, leg, 6, "3*4*5#")
        outcome = await Harness(project(PRICE)).run(leg)
    assert outcome.path[0].edge == "on_invalid" and outcome.variables["price"] is None


TIMED = flow(
    """
    flow: timed
    languages: [en]
    variables:
      code: {type: string}
    start: ask
    nodes:
      ask:
        type: collect
        prompt: Code
        into: code
        min_length: 3
        max_length: 10
        terminator: "#"
        first_digit_timeout: 5s
        inter_digit_timeout: 3s
        overall_timeout: 12s
        max_retries: 0
        next: done
        on_no_input: none
        on_invalid: invalid
      done: {type: hangup, prompt: "Code {code}"}
      none: {type: hangup, prompt: No code}
      invalid: {type: hangup, prompt: Invalid}
    """
)


async def _type_slowly(leg: MemoryCallLeg, keys: str, gap: float) -> None:
    """After the prompt, one key every `gap` seconds."""
    await leg.wait_for(lambda: leg.reads >= 1)
    for key in keys:
        await trio.sleep(gap)
        leg.press(key)


async def test_inter_digit_timeout_ends_an_entry_of_at_least_min_length(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_type_slowly, leg, "1234", 1.0)
        outcome = await Harness(project(TIMED)).run(leg)
    assert outcome.variables["code"] == "1234" and outcome.path[0].edge == "next"
    assert trio.current_time() == pytest.approx(4 + 3)  # the last key at 4 s, then 3 s of silence


async def test_inter_digit_timeout_with_fewer_than_min_length_is_invalid(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_type_slowly, leg, "12", 1.0)
        outcome = await Harness(project(TIMED)).run(leg)
    assert outcome.path[0].edge == "on_invalid"


async def test_terminator_with_fewer_than_min_length_digits_is_invalid(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=0)
    leg.press("12#")
    outcome = await Harness(project(TIMED)).run(leg)
    assert outcome.path[0].edge == "on_invalid" and outcome.variables["code"] is None
    assert trio.current_time() == 0  # the terminator ended the entry: no timeout was waited for


async def test_a_bare_terminator_is_invalid_not_no_input(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=0)
    leg.press("#")
    outcome = await Harness(project(TIMED)).run(leg)
    assert outcome.path[0].edge == "on_invalid"


async def test_overall_timeout_keeps_the_keys_typed_so_far(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_type_slowly, leg, "123456789", 2.5)  # never 3 s between keys
        outcome = await Harness(project(TIMED)).run(leg)
        nursery.cancel_scope.cancel()
    assert outcome.variables["code"] == "1234"  # keys at 2.5, 5, 7.5, 10; the entry ends at 12 s
    assert trio.current_time() == pytest.approx(12)


async def test_no_key_before_the_first_digit_timeout_is_no_input(autojump_clock: MockClock) -> None:
    leg = MemoryCallLeg(seconds_per_char=0)
    outcome = await Harness(project(TIMED)).run(leg)
    assert outcome.path[0].edge == "on_no_input" and trio.current_time() == pytest.approx(5)
