"""The published versions' contract, on an instance's folder and on PostgreSQL: every version
immutable with its id, number, author, time, note, origin, digest and files; CURRENT switched
in one step; listed and diffed; the tenant's folder taken in at start-up. On PostgreSQL also:
two instances publishing at once never get one number twice, and two starting together seed
version 1 once."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
import trio

from ivr.adapters.hosting.versions import Version, VersionError, Versions, VersionStore, digest
from ivr.adapters.postgres.versions import (
    VersionsUnavailable,
    open_postgres_versions,
    open_postgres_versions_of,
)

T = TypeVar("T")
Opener = Callable[[str], AbstractAsyncContextManager[Versions]]
FIRST = {"service.yaml": b"service: alpha\n", "main.yaml": b"say: one\n", "prompts/hi.wav": b"RIFF-1"}
SECOND = {"service.yaml": b"service: alpha\n", "main.yaml": b"say: two\n", "prompts/hi.wav": b"RIFF-2"}


@pytest.fixture(params=["folder", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the store of instance `name` (on PostgreSQL, every instance on one database)."""
    if request.param == "folder":

        @asynccontextmanager
        async def folder(name: str) -> AsyncIterator[Versions]:
            yield VersionStore(tmp_path / "alpha" / "versions")

        return folder
    url: str = request.getfixturevalue("postgres_url")
    return lambda name: open_postgres_versions(url, schema="tenant_alpha", cache=tmp_path / name / "cache")


async def blocking(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """The stores' methods are blocking work, run in a worker thread as the publisher does."""
    return await trio.to_thread.run_sync(functools.partial(work, *args, **kwargs))


async def publish(
    store: Versions, files: dict[str, bytes], author: str = "li.na", origin: str = "publish"
) -> Version:
    staged = await blocking(store.stage, files)
    return await blocking(store.commit, staged, author=author, note=f"by {author}", origin=origin)


async def test_versions_are_kept_whole_numbered_and_current_switches_in_one_step(opener: Opener) -> None:
    async with opener("a") as store:
        assert await blocking(store.list) == [] and await blocking(store.current) is None
        before = datetime.now(UTC).replace(microsecond=0)
        first = await publish(store, FIRST)
        assert await blocking(store.current) is None  # kept, not yet current
        await blocking(store.make_current, first.id)
        second = await publish(store, SECOND, author="wang.wei")
        assert (await blocking(store.current), await blocking(store.current_id)) == (first, "v1")
        await blocking(store.make_current, second.id)
        assert await blocking(store.current_id) == "v2"

        assert [
            (v.id, v.number, v.author, v.note, v.origin, v.files) for v in await blocking(store.list)
        ] == [
            ("v1", 1, "li.na", "by li.na", "publish", 3),
            ("v2", 2, "wang.wei", "by wang.wei", "publish", 3),
        ]
        assert (first.digest, second.digest) == (digest(FIRST), digest(SECOND))
        created = datetime.fromisoformat(second.created)
        assert before <= created <= datetime.now(UTC) + timedelta(seconds=1) and created.tzinfo is not None
        assert await blocking(store.get, "v1") == first
        assert await blocking(store.read_files, "v1") == FIRST
        folder = await blocking(store.files_dir, "v2")
        assert (folder / "main.yaml").read_bytes() == b"say: two\n" and (
            folder / "prompts" / "hi.wav"
        ).is_file()

        diff = await blocking(store.diff, "v1", "v2")
        assert "-say: one" in diff and "+say: two" in diff and "audio prompts/hi.wav changed" in diff
        for unknown in ("v9", "../v1", "x", "v01", "v"):
            with pytest.raises(VersionError, match=r"no version .* \(versions: v1, v2\)"):
                await blocking(store.get, unknown)


async def test_an_old_versions_files_published_again_are_a_new_version_and_the_old_is_unchanged(
    opener: Opener,
) -> None:
    async with opener("a") as store:
        first = await publish(store, FIRST)
        await publish(store, SECOND)
        again = await publish(store, await blocking(store.read_files, "v1"), origin="rollback of v1")
        await blocking(store.make_current, again.id)
        assert (again.id, again.digest, again.origin) == ("v3", first.digest, "rollback of v1")
        assert await blocking(store.get, "v1") == first and await blocking(store.read_files, "v3") == FIRST
        assert await blocking(store.last_of_origin, "rollback of v1") == again
        assert await blocking(store.last_of_origin, "source") is None


async def test_bad_files_are_refused_and_a_discarded_stage_leaves_no_version(opener: Opener) -> None:
    async with opener("a") as store:
        with pytest.raises(VersionError, match=r"no '\.\.'"):
            await blocking(store.stage, {"../escape.yaml": b"x"})
        staged = await blocking(store.stage, FIRST)
        assert (staged / "files" / "main.yaml").read_bytes() == b"say: one\n"  # checkable before it is kept
        await blocking(store.discard, staged)
        await blocking(store.clean_staging)
        assert await blocking(store.list) == [] and not staged.exists()


async def test_the_tenants_folder_is_taken_in_as_the_first_current_version(opener: Opener) -> None:
    async with opener("a") as store:
        taken = await blocking(store.take_in, FIRST, author="ivr serve", note="from folder alpha")
        assert taken is not None and (taken.id, taken.origin, taken.author) == ("v1", "source", "ivr serve")
        assert await blocking(store.current_id) == "v1"
        assert await blocking(store.take_in, FIRST, author="ivr serve", note="again") is None  # unchanged
        changed = await blocking(store.take_in, SECOND, author="ivr serve", note="edited")
        if store.shared:  # one center: the folder seeds an empty tenant only; then `ivr publish`
            assert changed is None and await blocking(store.current_id) == "v1"
        else:  # one instance: an edited folder wins at a restart
            assert changed is not None and await blocking(store.current_id) == changed.id == "v2"


async def test_two_instances_publishing_at_once_never_share_a_number(
    postgres_url: str, tmp_path: Path
) -> None:
    async with (
        open_postgres_versions(postgres_url, schema="tenant_alpha", cache=tmp_path / "a") as a,
        open_postgres_versions(postgres_url, schema="tenant_alpha", cache=tmp_path / "b") as b,
    ):
        made: list[Version] = []

        async def publisher(store: Versions, author: str) -> None:
            for n in range(5):
                made.append(
                    await publish(store, {**FIRST, "main.yaml": f"say: {author} {n}\n".encode()}, author)
                )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(publisher, a, "a")
            nursery.start_soon(publisher, b, "b")
        assert sorted(v.number for v in made) == list(range(1, 11))
        await blocking(a.make_current, "v10")
        await blocking(b.make_current, "v9")  # b finished preparing its v9 after a's v10
        assert await blocking(b.current_id) == "v10"  # the later publish stays current
        listed = await blocking(b.list)
        assert [v.id for v in listed] == [f"v{n}" for n in range(1, 11)]
        for version in listed:  # each number holds the files its publisher sent
            files = await blocking(a.read_files, version.id)
            assert files["main.yaml"].startswith(f"say: {version.author} ".encode())


async def test_two_instances_starting_together_seed_version_one_once(
    postgres_url: str, tmp_path: Path
) -> None:
    async with (
        open_postgres_versions(postgres_url, schema="tenant_alpha", cache=tmp_path / "a") as a,
        open_postgres_versions(postgres_url, schema="tenant_alpha", cache=tmp_path / "b") as b,
    ):
        taken: list[Version | None] = []

        async def start(store: Versions, files: dict[str, bytes]) -> None:
            taken.append(await blocking(store.take_in, files, author="ivr serve", note="from folder"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(start, a, FIRST)
            nursery.start_soon(start, b, SECOND)
        seeded = [v for v in taken if v is not None]
        assert len(seeded) == 1 and [v.id for v in await blocking(a.list)] == ["v1"]
        assert await blocking(b.current) == seeded[0]
        assert b.read_files("v1") in (FIRST, SECOND)  # from the trio thread (start-up): its own connection
        assert (await blocking(b.files_dir, "v1")).parent.parent == tmp_path / "b"  # fetched into b's cache


async def test_the_database_refuses_to_change_or_delete_a_published_version(
    postgres_url: str, tmp_path: Path
) -> None:
    async with open_postgres_versions(postgres_url, schema="tenant_alpha", cache=tmp_path / "a") as store:
        await publish(store, FIRST)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for statement in (
            "UPDATE tenant_alpha.flow_versions SET author = 'mallory'",
            "DELETE FROM tenant_alpha.flow_version_files",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="never changed or deleted"):
                conn.execute(statement)
    async with open_postgres_versions(postgres_url, schema="tenant_alpha", cache=tmp_path / "b") as store:
        assert await blocking(store.read_files, "v1") == FIRST  # and reopening migrates nothing twice


async def test_tenants_sharing_one_pool_each_see_only_their_own_versions(
    postgres_url: str, tmp_path: Path
) -> None:
    caches = {"tenant_alpha": tmp_path / "alpha", "tenant_beta": tmp_path / "beta"}
    async with open_postgres_versions_of(postgres_url, caches, size=1) as stores:
        alpha, beta = stores["tenant_alpha"], stores["tenant_beta"]
        await blocking(alpha.make_current, (await publish(alpha, FIRST)).id)
        await publish(alpha, SECOND)
        assert await blocking(beta.list) == [] and await blocking(beta.current_id) is None
        await blocking(beta.make_current, (await publish(beta, SECOND, author="beta")).id)
        assert [v.author for v in await blocking(beta.list)] == ["beta"]
        assert (
            await blocking(beta.read_files, "v1") == SECOND
            and await blocking(alpha.read_files, "v1") == FIRST
        )
        assert (await blocking(alpha.current_id), await blocking(beta.current_id)) == ("v1", "v1")


async def test_a_database_out_of_reach_is_a_version_error_and_the_store_reconnects_when_it_is_back(
    postgres_url: str, tmp_path: Path
) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    admin = postgres_url.rsplit("/", 1)[0] + "/postgres"

    def cut(old: str, new: str) -> None:  # every connection dropped, and the database renamed
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (old,))
            conn.execute(f'ALTER DATABASE "{old}" RENAME TO "{new}"')

    async with open_postgres_versions(postgres_url, schema="tenant_alpha", cache=tmp_path / "a") as store:
        await blocking(store.make_current, (await publish(store, FIRST)).id)
        cut(name, name + "_away")
        for _ in range(2):  # the dropped connection, then a new one that cannot be made
            with pytest.raises(VersionsUnavailable, match=r"PostgreSQL at .*/" + name):
                await blocking(store.current_id)
        staged = await blocking(store.stage, SECOND)
        with pytest.raises(VersionsUnavailable):
            await blocking(store.commit, staged, author="li.na", note="", origin="publish")
        cut(name + "_away", name)
        assert await blocking(store.current_id) == "v1"  # back, and nothing half-kept
        assert [v.id for v in await blocking(store.list)] == ["v1"]
