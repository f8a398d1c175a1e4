"""`PostgresLoginGate`: failed logins and lock-outs counted center-wide, on the shared database.

Place: the CTI's `LoginGate` (`ivr.adapters.cti.throttle`) when a tenant's agents' journal is
on PostgreSQL (`ivr.adapters.postgres.agent_journal`, whose connections and schema it shares).
With each instance counting in its own memory, five wrong passwords at each of N instances
would be 5 x N guesses before a lock; here every instance counts in one row per key
(`extension X`, `address Y`) in the tenant's schema, so a lock-out started at instance A
refuses the extension at instance B until it ends. The rules are `LoginThrottle`'s (the
same contract test, tests/cti/test_login_gates.py): failures within `window` count, the
last allowed one starts a lock-out of `lockout` seconds and clears the count, a right
password clears the extension's count. A failure is counted in one transaction holding
its keys' rows (`FOR UPDATE`, in key order), so two instances counting at once never
both miss the limit. Times are the instances' wall clocks (`clock`; kept in step by NTP:
a few seconds off shortens or lengthens a 15-minute lock-out by as much). Rows whose
failures and lock-out are over are deleted as failures are counted, so the table holds
only what still counts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ivr.adapters.cti.throttle import LoginLimits, LoginLock, login_keys
from ivr.adapters.postgres.database import Connection, Database
from ivr.adapters.postgres.values import pg_text
from ivr.adapters.storage.schema import Migration

COMPONENT = "cti_logins"
MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE login_failures (
                key TEXT PRIMARY KEY, failures TIMESTAMPTZ[] NOT NULL DEFAULT '{}',
                locked_until TIMESTAMPTZ, changed_at TIMESTAMPTZ NOT NULL)""",
            "CREATE INDEX login_failures_changed ON login_failures (changed_at)",
        ],
    ),
]


def _system_clock() -> datetime:
    return datetime.now(UTC)


class PostgresLoginGate:
    """A `LoginGate` over the shared database (made by `PostgresAgentJournal.login_gate`)."""

    def __init__(
        self, db: Database, limits: LoginLimits, clock: Callable[[], datetime] = _system_clock
    ) -> None:
        self.db = db
        self.limits = limits
        self._clock = clock

    async def locked(self, extension: str | None, address: str | None) -> LoginLock | None:
        keys, now = _keys(extension, address), self._clock()
        rows: list[tuple[str, datetime]] = await self.db.run(
            lambda c: c.execute(
                "SELECT key, locked_until FROM login_failures WHERE key = ANY(%s) AND locked_until > %s",
                (keys, now),
            ).fetchall()
        )
        found = dict(rows)
        for key in keys:  # the extension's lock-out first, as the local throttle answers
            if key in found:
                return LoginLock(key, (found[key] - now).total_seconds())
        return None

    async def failed(self, extension: str | None, address: str | None) -> LoginLock | None:
        keys, now = _keys(extension, address), self._clock()
        return await self.db.run(lambda c: self._count(c, keys, now))

    async def succeeded(self, extension: str) -> None:
        [key] = _keys(extension, None)
        now = self._clock()
        await self.db.run(
            lambda c: c.execute(
                "UPDATE login_failures SET failures = '{}', changed_at = %s WHERE key = %s", (now, key)
            )
        )

    # -- in the worker thread -----------------------------------------------------------
    def _count(self, c: Connection, keys: list[str], now: datetime) -> LoginLock | None:
        limits = self.limits
        since = now - timedelta(seconds=limits.window)
        for key in sorted(keys):  # rows created and locked in one order: no deadlock
            c.execute(
                "INSERT INTO login_failures (key, changed_at) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                (key, now),
            )
        rows = c.execute(
            "SELECT key, failures, locked_until FROM login_failures WHERE key = ANY(%s)"
            " ORDER BY key FOR UPDATE",
            (keys,),
        ).fetchall()
        held: dict[str, tuple[list[datetime], datetime | None]] = {key: (f, u) for key, f, u in rows}
        started = None
        for key in keys:
            failures, until = held[key]
            times = [at for at in failures if at > since] + [now]
            if len(times) >= limits.limit(key) and (until is None or until <= now):
                until, times = now + timedelta(seconds=limits.lockout), []
                started = LoginLock(key, limits.lockout)
            c.execute(
                "UPDATE login_failures SET failures = %s, locked_until = %s, changed_at = %s WHERE key = %s",
                (times, until, now, key),
            )
        over = now - timedelta(seconds=max(limits.window, limits.lockout))
        c.execute("DELETE FROM login_failures WHERE changed_at < %s", (over,))
        return started


def _keys(extension: str | None, address: str | None) -> list[str]:
    return [pg_text(key) for key in login_keys(extension, address)]
