"""`Database`: a few psycopg connections to one PostgreSQL database, used from trio.

Place: under every PostgreSQL store (`records`, `campaigns`, ...). psycopg's async
connection runs on asyncio only, so the stores use its plain (blocking) connections, each
piece of work in a worker thread (`trio.to_thread.run_sync`), as the SQLite stores do. A
store gets a small pool of its own (`size` connections, opened on first use): up to
`size` calls commit in parallel, and PostgreSQL itself shares one WAL flush between
concurrent commits, so no home-made group commit is needed. psycopg's own pool package is
not used: it is a further dependency with threads of its own for what 40 lines do here.

Every `run(work)` is one transaction, committed before `run` returns (durable with
PostgreSQL's default `synchronous_commit=on`). The thread is not abandoned when the trio
task is cancelled: a transaction is never left half-way. A connection the server dropped
is replaced on its next use.

    async with open_database(url) as db:
        n = await db.run(lambda conn: conn.execute("SELECT 1").fetchone())
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
import trio
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from ivr.adapters.errors import AdapterError, ConfigError

T = TypeVar("T")
Connection = psycopg.Connection[tuple[Any, ...]]
CONNECT_TIMEOUT = 5  # seconds; an unreachable server is reported at start-up, not waited for


class DatabaseUrlError(ConfigError):
    """The database URL cannot be read (not `postgresql://user@host:port/name`)."""


class DatabaseUnavailable(AdapterError):
    """PostgreSQL could not be reached, or refused the sign-in; the message says where."""


def describe(url: str) -> str:
    """Where `url` points, without its password: `user@host:port/dbname`."""
    parts = _parts(url)
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"{user}{host}:{port}/{parts.get('dbname') or ''}"


def check_url(url: str) -> str:
    """`url` if it names a PostgreSQL database; else `DatabaseUrlError` (without the password)."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise DatabaseUrlError(
            "the database URL must start with postgresql:// (postgresql://user@host:port/name)"
        )
    _parts(url)
    return url


def _parts(url: str) -> dict[str, str]:
    try:
        return {k: str(v) for k, v in conninfo_to_dict(url).items()}
    except psycopg.ProgrammingError as exc:
        raise DatabaseUrlError(f"the database URL cannot be read: {scrub(str(exc), url)}") from None


class Database:
    """A pool of up to `size` connections; `run(work)` runs `work(conn)` in a transaction."""

    def __init__(self, url: str, *, size: int = 4, name: str = "ivr", schema: str | None = None) -> None:
        self.url = check_url(url)
        self.where = describe(url)
        self.schema = schema  # the tables' own schema (a tenant's campaigns); None: public
        self._name = name
        self._idle: list[Connection] = []
        self._slots = trio.Semaphore(size)
        self._all: list[Connection] = []

    async def run(self, work: Callable[[Connection], T]) -> T:
        """`work(conn)` in one transaction in a worker thread; committed when this returns."""
        async with self._slots:
            held: list[Connection] = [self._idle.pop()] if self._idle else []
            try:
                return await trio.to_thread.run_sync(self._transaction, held, work)
            finally:
                if held and not (held[0].closed or held[0].broken):
                    self._idle.append(held[0])
                elif held and held[0] in self._all:  # dropped by the server: the next run reconnects
                    self._all.remove(held[0])
                    held[0].close()  # nothing to send on a broken connection: does not block
                    self._forget_idle()

    def _forget_idle(self) -> None:
        """After one connection was found dropped, the idle ones (to the same server, most
        likely restarted or gone) are let go too, so each does not fail one more run before
        the pool reconnects. Closing one sends at most a short goodbye: it does not block."""
        stale, self._idle = self._idle, []
        for conn in stale:
            self._all.remove(conn)
            conn.close()

    async def check(self) -> None:
        """Connect once now: `DatabaseUnavailable` (one line) if the server cannot be used."""
        await self.run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        conns, self._all, self._idle = self._all, [], []
        await trio.to_thread.run_sync(_close_all, conns)

    # -- in the worker thread ---------------------------------------------------------
    def _transaction(self, held: list[Connection], work: Callable[[Connection], T]) -> T:
        """`held`: the connection to use (empty: open one and put it there)."""
        if not held or held[0].closed or held[0].broken:
            held[:] = [self._connect()]
        try:
            with held[0].transaction():
                return work(held[0])
        except psycopg.OperationalError as exc:
            if not (held[0].closed or held[0].broken):
                raise  # the statement failed (a deadlock, a timeout): the caller's to handle
            raise DatabaseUnavailable(  # the server went away: the next run connects again
                f"PostgreSQL at {self.where} was lost: {first_line(scrub(str(exc), self.url))}"
            ) from None

    def _connect(self) -> Connection:
        try:
            conn = psycopg.connect(
                self.url,
                autocommit=True,  # transactions are explicit: `conn.transaction()`
                connect_timeout=CONNECT_TIMEOUT,
                application_name=self._name,
            )
        except psycopg.Error as exc:
            raise DatabaseUnavailable(
                f"PostgreSQL at {self.where} cannot be used: {first_line(scrub(str(exc), self.url))}"
            ) from None
        conn.execute("SET TIME ZONE 'UTC'")
        if self.schema is not None:  # created by the store's migration, under its lock
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        self._all.append(conn)
        return conn


@asynccontextmanager
async def open_database(
    url: str, *, size: int = 4, name: str = "ivr", schema: str | None = None
) -> AsyncIterator[Database]:
    """A `Database` checked reachable, closed at the end of the block."""
    db = Database(url, size=size, name=name, schema=schema)
    try:
        await db.check()
        yield db
    finally:
        with trio.CancelScope(shield=True):
            await db.close()


def _close_all(conns: list[Connection]) -> None:
    for conn in conns:
        conn.close()


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "no reason given")


def scrub(text: str, url: str) -> str:
    """`text` without the password of `url`, should a driver message repeat it (libpq's
    complaint about a malformed URL quotes the whole URL)."""
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:  # the URL cannot be parsed: find the password by its place
        found = _URL_PASSWORD.search(url)
        password = found.group(1) if found else None
    return text.replace(str(password), "***") if password else text


_URL_PASSWORD = re.compile(r"^[a-z]+://[^:/@?#]*:([^@/?#]+)@")
