"""`LoginThrottle`: failed logins counted per extension and per client address, and the
lock-outs they lead to. Sans-IO: every method takes `now` (seconds, trio clock).

Place: in front of every password and token check of the CTI (`ivr.adapters.cti.auth`:
POST /cti/login and the WebSocket's `login` alike), so neither a second entry point nor a
reconnect starts the count again. A locked extension is refused even with the right
password until the lock-out ends; the lock-out names its end. Memory is bounded: at most
`capacity` keys are tracked (the oldest are forgotten first).

The CTI asks a `LoginGate` (async, no clock in its calls): `LocalLoginGate` is this
throttle in this instance's memory; with a shared database the gate is center-wide
(`ivr.adapters.postgres.logins.PostgresLoginGate`), so failures at one instance count at
every other and a lock-out holds at all of them. Both pass tests/cti/test_login_gates.py.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import trio


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How many failures lock, within which window, for how long (seconds)."""

    max_failures: int = 5
    max_address_failures: int = 20
    window: float = 900.0
    lockout: float = 900.0

    def limit(self, key: str) -> int:
        return self.max_failures if key.startswith("extension") else self.max_address_failures


@dataclass(frozen=True, slots=True)
class LoginLock:
    """Logins for `subject` refused for `seconds_left` more seconds (as a gate answers)."""

    subject: str
    seconds_left: float

    def retry_after(self) -> int:
        return max(1, math.ceil(self.seconds_left))

    def message(self) -> str:
        minutes = max(1, math.ceil(self.seconds_left / 60))
        plural = "s" if minutes > 1 else ""
        return f"too many failed logins for {self.subject}: locked for {minutes} more minute{plural}"


class LoginGate(Protocol):
    """Failed logins counted and lock-outs kept, per extension and per address."""

    async def locked(self, extension: str | None, address: str | None) -> LoginLock | None:
        """The lock-out in force for this extension or address, if any."""
        ...

    async def failed(self, extension: str | None, address: str | None) -> LoginLock | None:
        """Count a failed login; the lock-out it started, if it was the last one allowed."""
        ...

    async def succeeded(self, extension: str) -> None:
        """A right password: the extension's count starts again (the address's does not)."""
        ...


@dataclass(frozen=True, slots=True)
class Lockout:
    """Logins for `subject` ("extension 8001", "address 10.0.0.7") refused until `until`."""

    subject: str
    until: float

    def at(self, now: float) -> LoginLock:
        return LoginLock(self.subject, self.until - now)

    def retry_after(self, now: float) -> int:
        return self.at(now).retry_after()

    def message(self, now: float) -> str:
        return self.at(now).message()


class LoginThrottle:
    @classmethod
    def of(cls, limits: LoginLimits, capacity: int = 10_000) -> LoginThrottle:
        return cls(
            max_failures=limits.max_failures,
            max_address_failures=limits.max_address_failures,
            window=limits.window,
            lockout=limits.lockout,
            capacity=capacity,
        )

    def __init__(
        self,
        *,
        max_failures: int = 5,
        max_address_failures: int = 20,
        window: float = 900.0,
        lockout: float = 900.0,
        capacity: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.max_address_failures = max_address_failures
        self.window = window
        self.lockout = lockout
        self.capacity = capacity
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._locked: dict[str, Lockout] = {}

    def locked(self, extension: str | None, address: str | None, now: float) -> Lockout | None:
        """The lock-out in force for this extension or address, if any."""
        for key in _keys(extension, address):
            lock = self._locked.get(key)
            if lock is not None and lock.until > now:
                return lock
            self._locked.pop(key, None)
        return None

    def failed(self, extension: str | None, address: str | None, now: float) -> Lockout | None:
        """Count a failed login; the lock-out it started, if it was the last one allowed."""
        started = None
        for key in _keys(extension, address):
            limit = self.max_failures if key.startswith("extension") else self.max_address_failures
            times = self._failures.pop(key, deque())
            times.append(now)
            while times and times[0] <= now - self.window:
                times.popleft()
            self._failures[key] = times
            if len(times) >= limit and key not in self._locked:
                started = self._locked[key] = Lockout(key, now + self.lockout)
                times.clear()
        while len(self._failures) > self.capacity:
            self._failures.popitem(last=False)
        return started

    def succeeded(self, extension: str, now: float) -> None:
        """A right password: the extension's count starts again (the address's does not)."""
        self._failures.pop(f"extension {extension}", None)


class LocalLoginGate:
    """A `LoginThrottle` in this instance's memory, on the trio clock (or `now`)."""

    def __init__(self, throttle: LoginThrottle | None = None, now: Callable[[], float] | None = None) -> None:
        self.throttle = throttle or LoginThrottle()
        self._now = now or trio.current_time

    async def locked(self, extension: str | None, address: str | None) -> LoginLock | None:
        await trio.lowlevel.checkpoint()
        now = self._now()
        lock = self.throttle.locked(extension, address, now)
        return lock.at(now) if lock is not None else None

    async def failed(self, extension: str | None, address: str | None) -> LoginLock | None:
        await trio.lowlevel.checkpoint()
        now = self._now()
        lock = self.throttle.failed(extension, address, now)
        return lock.at(now) if lock is not None else None

    async def succeeded(self, extension: str) -> None:
        await trio.lowlevel.checkpoint()
        self.throttle.succeeded(extension, self._now())


def login_keys(extension: str | None, address: str | None) -> list[str]:
    """The keys a login counts against: "extension X" first, then "address Y"."""
    return _keys(extension, address)


def _keys(extension: str | None, address: str | None) -> list[str]:
    keys = []
    if extension is not None:
        keys.append(f"extension {extension[:64]}")
    if address is not None:
        keys.append(f"address {address[:64]}")
    return keys
