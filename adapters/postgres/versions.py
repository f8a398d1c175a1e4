"""`PostgresVersionStore`: a tenant's published flow versions on PostgreSQL, shared by instances.

Place: what `ivr.adapters.hosting.versions.VersionStore` is in one instance's folder, on the
database the instances share (docs/cluster.md); chosen by `ivr.adapters.hosting.stores`
with a database URL, and the same contract (`tests/tenants/test_version_stores.py`). In the
tenant's schema `tenant_<name>`:

    flow_versions(number, author, created, note, origin, digest, files)   one row a version
    flow_version_files(number, path, content)                             its files' bytes
    flow_head(last, current, changed_at)                                  one row

A version is inserted with its files in one transaction that first locks `flow_head`'s row
(`FOR UPDATE`): two instances publishing at once get v(n+1) and v(n+2), one after the other,
never one number twice, and no gaps. CURRENT is `flow_head.current`, switched by one
`UPDATE` that never moves it back to an older number (of two publishes racing, the later
numbered wins, whichever instance finished preparing first). Rows are never changed or
deleted (triggers refuse it): a rollback publishes an old version's files as a new version.
`take_in` seeds version 1 from the tenant's folder only when the tenant has no version,
under the same lock, so of two instances starting together one seeds.

The checker and the engine read files from a folder, so each instance keeps the versions it
uses in a local cache, `cache/<id>-<digest>/files` (staged and fsynced, then renamed whole:
a folder there is complete; the digest in the name keeps a cache made against another
database from being used). Staging for the check before a publish is in that cache too.

Every method is blocking work, called from a trio worker thread (as the publisher does with
the folder store); it runs its transaction, in its tenant's schema (`SET LOCAL search_path`),
on a `Database` pool the server's tenants share, through
`trio.from_thread.run`. A read made from the trio thread itself (the editor's working copy
at start-up) uses one short connection of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import trio
from psycopg import sql

from ivr.adapters.hosting.versions import (
    SOURCE,
    Version,
    VersionError,
    VersionStore,
    digest,
    snapshot,
    unified_diff,
)
from ivr.adapters.postgres.database import (
    Connection,
    Database,
    DatabaseUnavailable,
    first_line,
    open_database,
    scrub,
)
from ivr.adapters.postgres.migrations import migrate
from ivr.adapters.postgres.values import pg_text
from ivr.adapters.storage.schema import Migration

COMPONENT = "flow_versions"
T = TypeVar("T")
MIGRATIONS: list[Migration] = [
    (
        1,
        [
            """CREATE TABLE flow_versions (
                number INTEGER PRIMARY KEY, author TEXT NOT NULL, created TIMESTAMPTZ NOT NULL,
                note TEXT NOT NULL, origin TEXT NOT NULL, digest TEXT NOT NULL, files INTEGER NOT NULL)""",
            """CREATE TABLE flow_version_files (
                number INTEGER NOT NULL REFERENCES flow_versions, path TEXT NOT NULL,
                content BYTEA NOT NULL, PRIMARY KEY (number, path))""",
            """CREATE TABLE flow_head (
                one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), last INTEGER NOT NULL DEFAULT 0,
                current INTEGER REFERENCES flow_versions, changed_at TIMESTAMPTZ)""",
            "INSERT INTO flow_head (one) VALUES (true)",
            """CREATE FUNCTION flow_versions_kept() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'a published version is never changed or deleted'; END $$""",
            """CREATE TRIGGER flow_versions_kept BEFORE UPDATE OR DELETE ON flow_versions
                FOR EACH ROW EXECUTE FUNCTION flow_versions_kept()""",
            """CREATE TRIGGER flow_version_files_kept BEFORE UPDATE OR DELETE ON flow_version_files
                FOR EACH ROW EXECUTE FUNCTION flow_versions_kept()""",
        ],
    ),
]
_COLUMNS = "number, author, created, note, origin, digest, files"


class VersionsUnavailable(VersionError):
    """The shared versions could not be read or written (PostgreSQL out of reach, or it
    refused the statement); nothing was changed."""


@asynccontextmanager
async def open_postgres_versions(
    url: str, *, schema: str, cache: Path
) -> AsyncIterator[PostgresVersionStore]:
    """The versions in `schema` on `url` (migrated), cached under `cache`, for the block."""
    async with open_postgres_versions_of(url, {schema: cache}) as stores:
        yield stores[schema]


@asynccontextmanager
async def open_postgres_versions_of(
    url: str, caches: Mapping[str, Path], *, size: int = 2
) -> AsyncIterator[dict[str, PostgresVersionStore]]:
    """A store per schema of `caches` (schema -> its cache folder), migrated, all over one
    small pool (each transaction names its schema), so a server with many tenants holds
    `size` connections for their versions, not one a tenant."""
    async with open_database(url, size=size, name="ivr-versions") as db:
        stores = {schema: PostgresVersionStore(db, cache, schema) for schema, cache in caches.items()}
        for store in stores.values():
            await store.migrate()
        yield stores


class PostgresVersionStore:
    """Create with `open_postgres_versions` (see the module docstring)."""

    shared = True

    def __init__(self, db: Database, cache: Path, schema: str) -> None:
        self.db = db
        self.cache = cache
        self.schema = schema
        self._folders = VersionStore(cache)  # staging: checked, fsynced files

    async def migrate(self) -> None:
        """Create or bring up to date the tables in this store's schema."""
        await self.db.run(self._in_schema(lambda c: migrate(c, COMPONENT, MIGRATIONS, schema=self.schema)))

    # -- reading ---------------------------------------------------------------------------
    def list(self) -> list[Version]:
        rows = self._run(
            lambda c: c.execute(f"SELECT {_COLUMNS} FROM flow_versions ORDER BY number").fetchall()
        )
        return [_version(row) for row in rows]

    def get(self, version_id: str) -> Version:
        number = _number(version_id)
        query = f"SELECT {_COLUMNS} FROM flow_versions WHERE number = %s"
        row = self._run(lambda c: c.execute(query, (number,)).fetchone()) if number is not None else None
        if row is None:
            known = ", ".join(v.id for v in self.list()) or "none"
            raise VersionError(f"no version {version_id!r} (versions: {known})")
        return _version(row)

    def current(self) -> Version | None:
        row = self._run(
            lambda c: c.execute(
                f"SELECT {', '.join('v.' + c for c in _COLUMNS.split(', '))}"
                " FROM flow_head h JOIN flow_versions v ON v.number = h.current"
            ).fetchone()
        )
        return _version(row) if row is not None else None

    def current_id(self) -> str | None:
        """CURRENT's id: one row of one table, read every second by each instance."""
        row = self._run(lambda c: c.execute("SELECT current FROM flow_head").fetchone())
        return f"v{row[0]}" if row is not None and row[0] is not None else None

    def read_files(self, version_id: str) -> dict[str, bytes]:
        number = self.get(version_id).number
        rows = self._run(
            lambda c: c.execute(
                "SELECT path, content FROM flow_version_files WHERE number = %s ORDER BY path", (number,)
            ).fetchall()
        )
        return {str(path): bytes(content) for path, content in rows}

    def files_dir(self, version_id: str) -> Path:
        """The version's files in this instance's cache (fetched the first time)."""
        version = self.get(version_id)
        folder = self.cache / _cached(version)
        if not folder.is_dir():
            staged = self._folders.stage(self.read_files(version_id))
            try:
                staged.rename(folder)
            except OSError:  # another thread of this instance fetched it meanwhile
                self._folders.discard(staged)
        return folder / "files"

    def last_of_origin(self, origin: str) -> Version | None:
        row = self._run(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM flow_versions WHERE origin = %s ORDER BY number DESC LIMIT 1",
                (origin,),
            ).fetchone()
        )
        return _version(row) if row is not None else None

    def diff(self, older: str, newer: str) -> str:
        return unified_diff(self.read_files(older), self.read_files(newer), older, newer)

    # -- writing ---------------------------------------------------------------------------
    def stage(self, files: Mapping[str, bytes]) -> Path:
        return self._folders.stage(files)

    def discard(self, staged: Path) -> None:
        self._folders.discard(staged)

    def clean_staging(self) -> None:
        self._folders.clean_staging()

    def commit(self, staged: Path, *, author: str, note: str, origin: str) -> Version:
        """The staged files as the next version (not yet current), numbered under the row lock."""
        files = snapshot(staged / "files")
        version = self._run(lambda c: _insert(c, files, author, note, origin, only_first=False))
        assert version is not None  # only_first=False always inserts
        self._keep_staged(staged, version)
        return version

    def make_current(self, version_id: str) -> None:
        """CURRENT := `version_id`, unless a later version is CURRENT already: of two
        publishes racing, the later numbered wins whichever instance prepared it first."""
        number = self.get(version_id).number
        self._run(
            lambda c: c.execute(
                "UPDATE flow_head SET current = %s, changed_at = now() WHERE current IS NULL OR current < %s",
                (number, number),
            )
        )

    def take_in(self, files: Mapping[str, bytes], *, author: str, note: str) -> Version | None:
        """`files` as version 1, CURRENT, when the tenant has no version yet (of instances
        starting together, the first to take the row lock); None when it has some."""
        staged = self.stage(files)
        version = self._run(lambda c: _insert(c, files, author, note, SOURCE, only_first=True))
        if version is None:
            self.discard(staged)
        else:
            self._keep_staged(staged, version)
        return version

    # -- helpers ---------------------------------------------------------------------------
    def _keep_staged(self, staged: Path, version: Version) -> None:
        """The staged folder becomes the version's cached copy (or goes, if one is there)."""
        try:
            staged.rename(self.cache / _cached(version))
        except OSError:
            self._folders.discard(staged)

    def _in_schema(self, work: Callable[[Connection], T]) -> Callable[[Connection], T]:
        """`work` in this store's schema, for its transaction only (the pool is shared)."""

        def scoped(conn: Connection) -> T:
            conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.schema)))
            return work(conn)

        return scoped

    def _run(self, work: Callable[[Connection], T]) -> T:
        try:
            try:
                trio.lowlevel.current_trio_token()
            except RuntimeError:  # a worker thread (as every caller but start-up reads)
                return trio.from_thread.run(self.db.run, self._in_schema(work))
            return self._run_here(self._in_schema(work))
        except DatabaseUnavailable as exc:
            raise VersionsUnavailable(str(exc)) from None
        except psycopg.Error as exc:
            reason = first_line(scrub(str(exc), self.db.url))
            raise VersionsUnavailable(f"the versions in PostgreSQL at {self.db.where}: {reason}") from None

    def _run_here(self, work: Callable[[Connection], T]) -> T:
        """`work` on a connection of its own, blocking this (trio) thread: start-up reads only."""
        with psycopg.connect(self.db.url, autocommit=True, application_name="ivr-versions") as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            with conn.transaction():
                return work(conn)


def _insert(
    c: Connection, files: Mapping[str, bytes], author: str, note: str, origin: str, *, only_first: bool
) -> Version | None:
    """The next version with its files, under `flow_head`'s row lock (`only_first`: only if
    there is none yet, and made CURRENT)."""
    row = c.execute("SELECT last FROM flow_head FOR UPDATE").fetchone()
    last = int(row[0]) if row is not None else 0
    if only_first and last > 0:
        return None
    number = last + 1
    created = datetime.now(UTC).replace(microsecond=0)
    version = Version(
        id=f"v{number}",
        number=number,
        author=pg_text(author[:200]),
        created=created.isoformat(timespec="seconds"),
        note=pg_text(note[:2000]),
        origin=pg_text(origin),
        digest=digest(files),
        files=len(files),
    )
    c.execute(
        f"INSERT INTO flow_versions ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (number, version.author, created, version.note, version.origin, version.digest, version.files),
    )
    with c.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO flow_version_files (number, path, content) VALUES (%s, %s, %s)",
            [(number, path, content) for path, content in sorted(files.items())],
        )
    c.execute("UPDATE flow_head SET last = %s", (number,))
    if only_first:
        c.execute("UPDATE flow_head SET current = %s, changed_at = now()", (number,))
    return version


def _version(row: tuple[Any, ...]) -> Version:
    number, author, created, note, origin, found_digest, files = row
    return Version(
        id=f"v{number}",
        number=int(number),
        author=str(author),
        created=created.astimezone(UTC).isoformat(timespec="seconds"),
        note=str(note),
        origin=str(origin),
        digest=str(found_digest),
        files=int(files),
    )


def _number(version_id: str) -> int | None:
    """N of `vN`, as the folder store names its versions (not `v01`)."""
    digits = version_id[1:]
    if version_id.startswith("v") and digits.isascii() and digits.isdigit() and len(digits) < 10:
        return int(digits) if digits == str(int(digits)) else None
    return None


def _cached(version: Version) -> str:
    return f"{version.id}-{version.digest[:16]}"
