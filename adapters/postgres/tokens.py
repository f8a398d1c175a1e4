"""`PostgresTokenBook`: the desktops' login tokens (`Tokens`) on the shared database.

Place: the CTI's token port (`ivr.adapters.cti.tokens`) when a tenant's agents' journal is
on PostgreSQL (`ivr.adapters.postgres.agent_journal`, whose connections and schema it
shares, like the login gate). A token issued at one instance works at every instance of
the center, and a logout (revoke) at one ends it at all of them. Only the token's SHA-256
is stored; expiry is the database's clock (`clock_timestamp()`), so instances whose clocks
differ agree on it. Expired rows are deleted as tokens are issued.
"""

from __future__ import annotations

import trio

from ivr.adapters.cti.tokens import digest_of, new_token
from ivr.adapters.postgres.database import Connection, Database
from ivr.adapters.storage.schema import Migration

COMPONENT = "cti_tokens"
MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE desk_tokens (
                digest BYTEA PRIMARY KEY, extension TEXT NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL, issued_by TEXT NOT NULL DEFAULT '')""",
            "CREATE INDEX desk_tokens_expires ON desk_tokens (expires_at)",
        ],
    ),
]


class PostgresTokenBook:
    """A `Tokens` over the shared database (made by `PostgresAgentJournal.token_book`)."""

    def __init__(self, db: Database, ttl: float, instance: str = "") -> None:
        self.db = db
        self.ttl = ttl
        self.instance = instance

    async def issue(self, extension: str) -> str:
        token, digest = new_token()

        def insert(conn: Connection) -> None:
            conn.execute("DELETE FROM desk_tokens WHERE expires_at <= clock_timestamp()")
            conn.execute(
                "INSERT INTO desk_tokens (digest, extension, expires_at, issued_by)"
                " VALUES (%s, %s, clock_timestamp() + make_interval(secs => %s), %s)",
                (digest, extension, self.ttl, self.instance),
            )

        await self.db.run(insert)
        return token

    async def extension(self, token: str) -> str | None:
        live = await self._live(token)
        return None if live is None else live[0]

    async def expires(self, token: str) -> float | None:
        live = await self._live(token)
        return None if live is None else trio.current_time() + live[1]

    async def revoke(self, token: str) -> None:
        digest = digest_of(token)
        await self.db.run(lambda c: c.execute("DELETE FROM desk_tokens WHERE digest = %s", (digest,)))

    async def _live(self, token: str) -> tuple[str, float] | None:
        """The token's extension and the seconds it has left, if it works now."""
        digest = digest_of(token)
        row: tuple[str, float] | None = await self.db.run(
            lambda c: c.execute(
                "SELECT extension, extract(epoch FROM expires_at - clock_timestamp())::float8"
                " FROM desk_tokens WHERE digest = %s AND expires_at > clock_timestamp()",
                (digest,),
            ).fetchone()
        )
        return None if row is None else (str(row[0]), float(row[1]))
