"""Waiting on whichever of several `trio.Event`s comes first: a call answered or hung up, a
transfer's result or the caller gone.

Place: a small trio helper the SIP, dialer, hosting and desk adapters share; it imports
nothing of ours.
"""

from __future__ import annotations

import trio


async def first_set(*events: trio.Event) -> None:
    """Return as soon as any of `events` is set (at once if one already is)."""
    if any(event.is_set() for event in events):
        return
    async with trio.open_nursery() as nursery:
        for event in events:

            async def wait(event: trio.Event = event) -> None:
                await event.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(wait)
