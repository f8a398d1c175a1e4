"""The sql backend on real SQLite files: rows, exact money, transactions, errors, timeouts."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from adapters_support import op, service

from ivr.adapters.data import ServiceConfigError, ServiceOperations, sqldatabase
from ivr.adapters.data.sqldatabase import redact
from ivr.adapters.data.sqlvalues import is_write, to_pyformat
from ivr.runtime.ports import OperationError, OperationTimeout

SCHEMA = """
CREATE TABLE accounts (account TEXT PRIMARY KEY, name TEXT, cash NUMERIC NOT NULL);
CREATE TABLE orders (order_key TEXT PRIMARY KEY, account TEXT NOT NULL, amount NUMERIC NOT NULL);
INSERT INTO accounts VALUES ('1001', 'Li', 1234.56), ('1002', 'Wang', 0.1);
"""

DECLS = (
    op(
        "cash",
        "sql",
        query="SELECT cash FROM accounts WHERE account = :account",
        params=("account",),
        one=True,
    ),
    op("accounts", "sql", query="SELECT account, name FROM accounts ORDER BY account"),
    op("any_row", "sql", query="SELECT account FROM accounts", one=True),
    op(
        "order",
        "sql",
        params=("order_key", "account", "amount"),
        idempotency_key="order_key",
        query=[
            "UPDATE accounts SET cash = cash - :amount WHERE account = :account",
            "INSERT INTO orders VALUES (:order_key, :account, :amount)",
        ],
    ),
    op("broken", "sql", query="SELEKT 1", retries=3),
    op(
        "spin",
        "sql",
        timeout="0.2",
        query="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT count(*) FROM c WHERE x < 0",
    ),
)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "bank.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    conn.close()
    return path


@pytest.fixture
async def ops(database: Path) -> AsyncIterator[ServiceOperations]:
    url = f"sqlite:///{database.name}"
    async with ServiceOperations.from_service(
        service(*DECLS), base_dir=database.parent, database_url=url
    ) as o:
        yield o


async def test_one_row_answers_a_dict_with_exact_decimals(ops: ServiceOperations) -> None:
    assert await ops.invoke("cash", {"account": "1001"}) == {"cash": Decimal("1234.56")}
    assert await ops.invoke("cash", {"account": "1002"}) == {"cash": Decimal("0.1")}
    assert await ops.invoke("cash", {"account": "nobody"}) is None


async def test_rows_answer_a_list_of_dicts(ops: ServiceOperations) -> None:
    assert await ops.invoke("accounts", {}) == [
        {"account": "1001", "name": "Li"},
        {"account": "1002", "name": "Wang"},
    ]


async def test_one_with_several_rows_is_an_error(ops: ServiceOperations) -> None:
    with pytest.raises(OperationError, match="operation 'any_row' failed: expected at most one row, got 2"):
        await ops.invoke("any_row", {})


async def test_arguments_are_bound_never_formatted(ops: ServiceOperations) -> None:
    assert await ops.invoke("cash", {"account": "1001' OR '1'='1"}) is None


async def test_a_write_commits_all_statements_and_decimal_stays_exact(
    ops: ServiceOperations, database: Path
) -> None:
    result = await ops.invoke("order", {"order_key": "k1", "account": "1001", "amount": Decimal("0.56")})
    assert result == {"rows_affected": 1}
    assert await ops.invoke("cash", {"account": "1001"}) == {"cash": Decimal("1234")}


async def test_a_failing_statement_rolls_back_the_whole_operation(ops: ServiceOperations) -> None:
    args = {"order_key": "k1", "account": "1001", "amount": Decimal("1")}
    await ops.invoke("order", args)
    with pytest.raises(OperationError, match="IntegrityError"):
        await ops.invoke("order", args)  # same key: the INSERT fails, so the UPDATE is undone
    assert await ops.invoke("cash", {"account": "1001"}) == {"cash": Decimal("1233.56")}


async def test_syntax_error_is_not_retried(ops: ServiceOperations) -> None:
    with pytest.raises(OperationError, match="operation 'broken' failed: OperationalError: near \"SELEKT\""):
        await ops.invoke("broken", {})
    assert ops.statistics()["broken"].attempts == 1


async def test_a_long_query_is_interrupted_at_the_timeout_and_the_pool_recovers(
    ops: ServiceOperations,
) -> None:
    with trio.fail_after(5):
        with pytest.raises(OperationTimeout, match=r"operation 'spin' timed out after 0\.2s"):
            await ops.invoke("spin", {})
        for _ in range(8):  # more than the pool size: no connection left busy by the abandoned query
            assert await ops.invoke("cash", {"account": "1002"}) == {"cash": Decimal("0.1")}


async def test_a_busy_database_is_retried(database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqldatabase, "BUSY_TIMEOUT_SECONDS", 0.05)
    decl = op(
        "order", "sql", retries=8, timeout="1", params=("k",), query="INSERT INTO orders VALUES (:k, 'x', 1)"
    )
    async with ServiceOperations.from_service(
        service(decl), base_dir=database.parent, database_url=str(database)
    ) as o:
        locker = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        locker.execute("BEGIN IMMEDIATE")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_release_after, locker, 0.3)
            assert await o.invoke("order", {"k": "busy"}) == {"rows_affected": 1}
        assert o.statistics()["order"].attempts > 1


async def _release_after(conn: sqlite3.Connection, seconds: float) -> None:
    await trio.sleep(seconds)
    conn.execute("ROLLBACK")
    conn.close()


def test_postgresql_without_psycopg_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    decl = op("cash", "sql", query="SELECT 1")
    with pytest.raises(ServiceConfigError, match=r"pip install 'psycopg\[binary\]'") as info:
        ServiceOperations.from_service(
            service(decl), base_dir=tmp_path, database_url="postgresql://ivr:s3cret@db/bank"
        )
    assert "s3cret" not in str(info.value)


def test_named_placeholders_become_pyformat_outside_quotes_and_casts() -> None:
    sql = "SELECT ':x', amount::numeric, 5 % 2 FROM t WHERE a = :account AND b = :b"
    assert (
        to_pyformat(sql) == "SELECT ':x', amount::numeric, 5 %% 2 FROM t WHERE a = %(account)s AND b = %(b)s"
    )


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("SELECT 1", False),
        ("  -- comment\n select * from t", False),
        ("WITH x AS (SELECT 1) SELECT * FROM x", False),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", True),
        ("INSERT INTO t VALUES (1)", True),
        ("update t set a = 1", True),
    ],
)
def test_statements_that_may_write_are_recognised(statement: str, writes: bool) -> None:
    assert is_write(statement) is writes


def test_passwords_are_redacted_from_urls() -> None:
    assert redact("postgresql://ivr:s3cret@db:5432/bank") == "postgresql://ivr:***@db:5432/bank"
    assert redact("postgresql://db/bank") == "postgresql://db/bank"
