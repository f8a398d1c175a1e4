"""`ServiceOperations.from_service`: every problem reported at start-up; invoke; statistics."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from adapters_support import op, service

from ivr.adapters.data import ServiceConfigError, ServiceOperations
from ivr.runtime.ports import OperationError


def test_every_misdeclared_operation_is_reported_with_its_name_and_line(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "bank.db").close()
    declared = service(
        op("mystery", "soap", line=2),
        op("no_function", "python", line=3),
        op("no_module", "python", function="nowhere.at_all:f", line=4),
        op("no_attr", "python", function="sample_plugins:missing", line=5),
        op("not_callable", "python", function="sample_plugins:NOT_CALLABLE", line=6),
        op("wrong_params", "python", function="sample_plugins:quote", params=("isin",), line=7),
        op("no_query", "sql", database="bank.db", line=8),
        op("undeclared", "sql", query="SELECT :account", database="bank.db", line=9),
        op("no_db", "sql", query="SELECT 1", line=10),
        op("missing_db", "sql", query="SELECT 1", database="nope.db", line=11),
        op("no_url", "http", line=12),
        op("bad_method", "http", url="http://x/{code}", params=("code",), method="FETCH", line=13),
        op("url_param", "http", url="http://x/{isin}", line=14),
        op("typo", "sql", query="SELECT 1", database="bank.db", ones=True, line=15),
        op("key", "python", function="sample_plugins:quote", params=("code",), idempotency_key="k", line=16),
        op("timing", "python", function="sample_plugins:quote", params=("code",), timeout="0", line=17),
    )
    with pytest.raises(ServiceConfigError) as info:
        ServiceOperations.from_service(declared, base_dir=tmp_path)
    problems = info.value.problems
    expected = {
        "mystery": "unknown backend 'soap'",
        "no_function": "'function' must be 'package.module:callable'",
        "no_module": "cannot import nowhere.at_all",
        "no_attr": "has no public attribute 'missing'",
        "not_callable": "is not callable",
        "wrong_params": "cannot take the parameters ['isin']",
        "no_query": "missing 'query'",
        "undeclared": "undeclared parameter(s) account",
        "no_db": "no database",
        "missing_db": "does not exist",
        "no_url": "'url' must be an http:// or https:// URL",
        "bad_method": "'method' must be one of",
        "url_param": "url uses undeclared parameter(s) isin",
        "typo": "unknown key(s) for backend sql: ones",
        "key": "idempotency_key 'k' must name one of the params",
        "timing": "timeout must be positive",
    }
    for name, fragment in expected.items():
        assert any(f"operation {name!r}" in p and fragment in p for p in problems), (name, problems)
    assert "service.yaml:13:3: operation 'bad_method'" in str(info.value)


def test_a_plugin_next_to_the_service_file_is_importable(tmp_path: Path) -> None:
    (tmp_path / "brokerage_plugins_for_test.py").write_text("def hello(name):\n    return 'hi ' + name\n")
    declared = service(op("hello", "python", function="brokerage_plugins_for_test:hello", params=("name",)))
    ServiceOperations.from_service(declared, base_dir=tmp_path)


async def test_unknown_operation_and_wrong_arguments_are_operation_errors(tmp_path: Path) -> None:
    declared = service(op("quote", "python", function="sample_plugins:quote", params=("code",)))
    async with ServiceOperations.from_service(declared, base_dir=tmp_path) as operations:
        with pytest.raises(OperationError, match="operation 'balance' is not declared"):
            await operations.invoke("balance", {})
        with pytest.raises(OperationError, match=r"missing \['code'\]; unexpected \['isin'\]"):
            await operations.invoke("quote", {"isin": "x"})


async def test_statistics_count_calls_and_failures_per_operation(tmp_path: Path) -> None:
    declared = service(
        op("quote", "python", function="sample_plugins:quote", params=("code",)),
        op("broken", "python", function="sample_plugins:broken", params=("code",)),
    )
    async with ServiceOperations.from_service(declared, base_dir=tmp_path) as operations:
        await operations.invoke("quote", {"code": "600000"})
        with pytest.raises(OperationError):
            await operations.invoke("broken", {"code": "x"})
        stats = operations.statistics()
    assert (stats["quote"].calls, stats["quote"].failures) == (1, 0)
    assert (stats["broken"].calls, stats["broken"].failures, stats["broken"].timeouts) == (1, 1, 0)
    assert stats["quote"].mean_latency >= 0
