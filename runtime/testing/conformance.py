"""The `CallLeg` conformance suite: what every call-leg adapter must do, as async checks.

A check gets a connected `(leg, far_end)` pair from the adapter's factory: `far_end` is the
caller's side (for the memory leg, the leg itself; for SIP, a test softphone). Run them all
with `run_all(factory)`, or parametrize a test over `CHECKS` (see
tests/runtime/test_leg_conformance.py). Checks use real timeouts of a few hundred
milliseconds, so they also run on a real clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Protocol

import trio

from ivr.runtime.ports import TYPE_AHEAD_LIMIT, CallEnded, CallLeg, SpokenPrompt
from ivr.runtime.testing.leg import MemoryCallLeg

LONG = SpokenPrompt("a prompt long enough to be interrupted by a key " * 4, "en")
SHORT = SpokenPrompt("ok", "en")


class FarEnd(Protocol):
    """The caller's side of a leg under test."""

    async def press(self, keys: str) -> None: ...

    async def hang_up(self) -> None: ...


LegFactory = Callable[[], AbstractAsyncContextManager[tuple[CallLeg, FarEnd]]]
Check = Callable[[LegFactory], Awaitable[None]]


async def play_returns_false_when_not_cut(factory: LegFactory) -> None:
    async with factory() as (leg, _):
        assert await leg.play(SHORT, barge_in=True) is False


async def barge_in_cuts_the_prompt_and_keeps_the_digit(factory: LegFactory) -> None:
    async with factory() as (leg, far), trio.open_nursery() as nursery:
        nursery.start_soon(_press_soon, far, "5")
        assert await leg.play(LONG, barge_in=True) is True
        assert await leg.read_digit(Decimal("0.1")) == "5"


async def no_barge_in_plays_through_and_keeps_type_ahead(factory: LegFactory) -> None:
    async with factory() as (leg, far), trio.open_nursery() as nursery:
        nursery.start_soon(_press_soon, far, "12")
        assert await leg.play(LONG, barge_in=False) is False
        assert await leg.read_digit(Decimal("0.1")) == "1"
        assert await leg.read_digit(Decimal("0.1")) == "2"


async def read_digit_times_out_with_none(factory: LegFactory) -> None:
    async with factory() as (leg, _):
        assert await leg.read_digit(Decimal("0.2")) is None


async def clear_digits_drops_type_ahead(factory: LegFactory) -> None:
    async with factory() as (leg, far):
        await far.press("9")
        await trio.sleep(0.05)
        leg.clear_digits()
        assert await leg.read_digit(Decimal("0.1")) is None


async def call_ended_after_hangup(factory: LegFactory) -> None:
    async with factory() as (leg, far):
        await far.hang_up()
        await trio.sleep(0.05)
        for attempt in (lambda: leg.read_digit(Decimal(1)), lambda: leg.play(SHORT, barge_in=True)):
            try:
                await attempt()
            except CallEnded:
                continue
            raise AssertionError("a leg method returned after the caller hung up")


async def hangup_wakes_a_waiting_read(factory: LegFactory) -> None:
    async with factory() as (leg, far), trio.open_nursery() as nursery:
        nursery.start_soon(_hang_up_soon, far)
        try:
            await leg.read_digit(Decimal(5))
        except CallEnded:
            return
        raise AssertionError("read_digit did not raise CallEnded when the caller hung up")


async def type_ahead_keeps_at_most_the_limit(factory: LegFactory) -> None:
    """A caller keying more than `TYPE_AHEAD_LIMIT` keys with nothing reading them: the
    first keys are kept, in order, and no more than the limit."""
    keys = ("1234567890" * 10)[: TYPE_AHEAD_LIMIT + 4]
    async with factory() as (leg, far):
        await far.press(keys)
        await trio.sleep(0.2)
        kept = ""
        while (digit := await leg.read_digit(Decimal("0.3"))) is not None:
            kept += digit
        assert kept[:1] == "1", f"the first key pressed was not kept: {kept!r}"
        assert len(kept) <= TYPE_AHEAD_LIMIT, f"{len(kept)} keys kept, more than {TYPE_AHEAD_LIMIT}"


async def _press_soon(far: FarEnd, keys: str) -> None:
    await trio.sleep(0.05)
    await far.press(keys)


async def _hang_up_soon(far: FarEnd) -> None:
    await trio.sleep(0.05)
    await far.hang_up()


CHECKS: tuple[Check, ...] = (
    play_returns_false_when_not_cut,
    barge_in_cuts_the_prompt_and_keeps_the_digit,
    no_barge_in_plays_through_and_keeps_type_ahead,
    read_digit_times_out_with_none,
    clear_digits_drops_type_ahead,
    call_ended_after_hangup,
    hangup_wakes_a_waiting_read,
    type_ahead_keeps_at_most_the_limit,
)


async def run_all(factory: LegFactory) -> None:
    """Run every check; the first failure raises `AssertionError` naming the behaviour."""
    for check in CHECKS:
        await check(factory)


class MemoryFarEnd:
    """The far end of a `MemoryCallLeg`: its caller-side methods, made awaitable."""

    def __init__(self, leg: MemoryCallLeg) -> None:
        self.leg = leg

    async def press(self, keys: str) -> None:
        self.leg.press(keys)
        await trio.lowlevel.checkpoint()

    async def hang_up(self) -> None:
        self.leg.hang_up()
        await trio.lowlevel.checkpoint()
