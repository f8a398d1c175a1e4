"""The desktop tokens' contract (`ivr.adapters.cti.tokens.Tokens`), met by this instance's
memory (`TokenBook`) and the shared database (`PostgresTokenBook`, in a tenant's schema):
a token names its extension until it expires or is revoked, and only its digest is kept.
On the shared database a token issued at one instance works at another, and a logout at
one ends it at both."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import SimpleNamespace

import pytest
import trio
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ivr.adapters.cti.tokens import TokenBook, Tokens
from ivr.adapters.postgres.agent_journal import open_postgres_agent_journal
from ivr.adapters.postgres.database import DatabaseUnavailable
from ivr.adapters.supervision.access import supervisor_of

Opener = Callable[[float], AbstractAsyncContextManager[Tokens]]


@asynccontextmanager
async def memory(ttl: float) -> AsyncIterator[Tokens]:
    yield TokenBook(ttl)


def shared(url: str, instance: str = "a") -> Opener:
    @asynccontextmanager
    async def opened(ttl: float) -> AsyncIterator[Tokens]:
        async with open_postgres_agent_journal(url, instance=instance, schema="tenant_tokens") as journal:
            yield journal.token_book(ttl)

    return opened


@pytest.fixture(params=["memory", "postgres"])
def book(request: pytest.FixtureRequest) -> Opener:
    if request.param == "memory":
        return memory
    return shared(str(request.getfixturevalue("postgres_url")))


async def test_a_token_names_its_extension_until_revoked(book: Opener) -> None:
    async with book(600) as tokens:
        token = await tokens.issue("8001")
        second = await tokens.issue("8001")
        assert token != second and len(token) >= 40
        assert await tokens.extension(token) == "8001" and await tokens.extension(second) == "8001"
        assert await tokens.extension(token + "x") is None and await tokens.extension("") is None
        left = await tokens.expires(token)
        assert left is not None and 590 < left - trio.current_time() <= 600
        await tokens.revoke(token)
        assert await tokens.extension(token) is None and await tokens.expires(token) is None
        assert await tokens.extension(second) == "8001"  # other tokens of the agent go on


async def test_a_token_stops_working_when_it_expires(book: Opener) -> None:
    async with book(0.3) as tokens:  # real time: the database's clock decides there
        token = await tokens.issue("8002")
        assert await tokens.extension(token) == "8002"
        await trio.sleep(0.5)
        assert await tokens.extension(token) is None and await tokens.expires(token) is None


async def test_only_the_digest_of_a_token_is_stored(postgres_url: str) -> None:
    async with open_postgres_agent_journal(postgres_url, schema="tenant_tokens") as journal:
        token = await journal.token_book(600).issue("8003")
        rows = await journal.db.run(lambda c: c.execute("SELECT * FROM desk_tokens").fetchall())
    assert token not in repr(rows) and token.encode() not in b"".join(bytes(r[0]) for r in rows)
    assert hashlib.sha256(token.encode()).digest() in [bytes(r[0]) for r in rows]


async def test_a_token_from_one_instance_works_at_the_other_and_a_logout_ends_it_at_both(
    postgres_url: str,
) -> None:
    async with shared(postgres_url, "a")(600) as at_a, shared(postgres_url, "b")(600) as at_b:
        token = await at_a.issue("8001")
        assert await at_b.extension(token) == "8001"
        await at_b.revoke(token)
        assert await at_a.extension(token) is None


class _Unreachable:
    """A token store whose database cannot be reached."""

    ttl = 600.0

    async def extension(self, token: str) -> str | None:
        raise DatabaseUnavailable("PostgreSQL at ivr@127.0.0.1:5432/ivr was lost")


async def test_a_supervisor_request_while_the_tokens_store_is_unreachable_is_a_503() -> None:
    server = SimpleNamespace(tokens=_Unreachable(), directory={})
    request = Request({"type": "http", "headers": [(b"authorization", b"Bearer some-token")]})
    with pytest.raises(HTTPException) as refused:
        await supervisor_of(server, request)  # type: ignore[arg-type]
    assert refused.value.status_code == 503 and refused.value.headers == {"retry-after": "5"}
    assert "try again" in refused.value.detail
