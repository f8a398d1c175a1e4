"""Pacing: how many new outbound calls may start now. Pure arithmetic, no clock of its own.

Place: the campaign core (`core.py`) asks `Pacer` for permission per call; the SIP dialer
computes its trunks' `free_channels` with `idle_channels`. Three limits, all must allow:

- **idle capacity** (per trunk): inbound calls keep priority. Outbound calls use only
  channels that no inbound call uses, minus a `reserve` always left free for inbound, minus
  room for the inbound calls expected within `lookahead` seconds at the recent arrival
  rate (so the dialer backs off as inbound load rises, before an inbound caller could find
  the trunk full), and none at all while the server is overloaded;
- **concurrency** (per campaign): at most `max_concurrent` calls of the campaign at once;
- **rate** (per campaign): at most `calls_per_second` new calls a second, a token bucket
  holding one second's worth (so a campaign that waited does not burst).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TrunkLoad:
    """What the idle-capacity rule looks at, for one trunk."""

    channels: int
    reserve: int
    inbound: int  # inbound calls up now
    outbound: int  # outbound calls up (or ringing) now
    inbound_per_second: float = 0.0  # recent inbound arrival rate
    lookahead: float = 2.0  # seconds of expected inbound arrivals kept free
    overloaded: bool = False


def idle_channels(load: TrunkLoad) -> int:
    """How many new outbound calls the trunk can take now (never negative)."""
    if load.overloaded:
        return 0
    expected = math.ceil(load.inbound_per_second * load.lookahead)
    free = load.channels - load.reserve - load.inbound - load.outbound - expected
    return max(0, free)


class TokenBucket:
    """At most `rate` events a second, with bursts of at most `burst` (default: one
    second's worth, at least one). `now` is any monotonic clock in seconds."""

    def __init__(self, rate: float, now: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.rate = rate
        self.burst = max(1.0, rate if burst is None else burst)
        self._tokens = 1.0  # a fresh campaign may place its first call at once
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now

    def available(self, now: float) -> int:
        self._refill(now)
        return int(self._tokens + 1e-9)

    def take(self, now: float) -> bool:
        self._refill(now)
        if self._tokens + 1e-9 >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def next_at(self, now: float) -> float:
        """When the next token is there (now, if one is)."""
        self._refill(now)
        if self._tokens + 1e-9 >= 1.0:
            return now
        return now + (1.0 - self._tokens) / self.rate
