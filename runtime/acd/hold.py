"""What a waiting caller hears: announcements of position and expected wait every
`announce_every` seconds (the position from the local ACD, or read from a center's shared
queue), hold music in between (a `SpokenPrompt` with `audio` set to the
queue's music file and empty text).

Run by `ivr.runtime.acd.service` in a cancel scope that ends when an agent is found or the
wait runs out; it never returns by itself. A leg that cannot play files (it returns from the
music at once) simply waits. A caller hanging up raises `CallEnded`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from ivr.runtime.acd.config import Position, QueueConfig
from ivr.runtime.ports import CallEnded, CallLeg, HangupWatch, SpokenPrompt

# A music file that ends sooner than this is taken as a leg that does not play files.
_SHORTEST_MUSIC = 1.0


@dataclass(slots=True)
class HoldSchedule:
    """When the caller's next announcement is due; kept across a return to the queue so a
    caller is not told their position again the moment an agent fails to answer."""

    next_announcement: float


PositionSource = Callable[[], Position] | Callable[[], Awaitable[Position | None]]
"""Where the caller stands now: the local ACD knows at once; a shared queue reads it (None
when it cannot say just now: that announcement is skipped, the music goes on)."""


async def hold(leg: CallLeg, config: QueueConfig, schedule: HoldSchedule, position: PositionSource) -> None:
    """Announce and play music until cancelled."""
    while True:
        if config.announce_every is not None and trio.current_time() >= schedule.next_announcement:
            schedule.next_announcement = trio.current_time() + config.announce_every
            found = position()
            place = await found if inspect.isawaitable(found) else found
            if place is not None:
                await leg.play(config.announcement(place), barge_in=False)
        until = schedule.next_announcement if config.announce_every is not None else math.inf
        with trio.move_on_at(until):
            await _music(leg, config.music)
            await _wait_for_hangup(leg)


async def _music(leg: CallLeg, music: str | None) -> None:
    while music is not None:
        started = trio.current_time()
        await leg.play(SpokenPrompt("", "", music), barge_in=False)
        if trio.current_time() - started < _SHORTEST_MUSIC:
            return


async def _wait_for_hangup(leg: CallLeg) -> None:
    """Sleep; raise `CallEnded` as soon as the caller hangs up, if the leg can tell."""
    if isinstance(leg, HangupWatch):
        await leg.wait_ended()
        raise CallEnded(leg.call_id)
    await trio.sleep_forever()
