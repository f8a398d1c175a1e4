"""A plug-in whose work blocks the server's event loop for 25 ms (an `async def` runs in the
call's task): per-call CPU work in the server's main thread, as heavy flows have."""

import time

COST = 0.025


async def hog_the_loop() -> dict[str, bool]:
    time.sleep(COST)  # noqa: ASYNC251 - blocking the loop is the point
    return {"done": True}
