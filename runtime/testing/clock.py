"""`VirtualWallClock`: a wall clock pinned at a chosen instant that moves with trio's clock,
so a test that waits 10 virtual minutes sees the time of day move 10 minutes too."""

from __future__ import annotations

from datetime import datetime, timedelta

import trio


class VirtualWallClock:
    def __init__(self, start: datetime) -> None:
        self.start = start
        self._origin: float | None = None
        self._last: tuple[float, datetime] | None = None  # many reads share one instant

    def now(self) -> datetime:
        try:
            current = trio.current_time()
        except RuntimeError:  # outside trio: the pinned instant
            return self.start
        if self._origin is None:
            self._origin = current
        if self._last is None or self._last[0] != current:
            self._last = (current, self.start + timedelta(seconds=current - self._origin))
        return self._last[1]
