"""The python backend: sync and async plug-ins, transient vs permanent failures, timeouts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sample_plugins
from adapters_support import op, service

from ivr.adapters.data import ServiceOperations
from ivr.runtime.ports import OperationError, OperationTimeout


def operations(tmp_path: Path, *decls: object) -> ServiceOperations:
    return ServiceOperations.from_service(service(*decls), base_dir=tmp_path)  # type: ignore[arg-type]


async def test_sync_plugin_gets_keyword_arguments_and_keeps_decimals(tmp_path: Path) -> None:
    async with operations(
        tmp_path, op("q", "python", function="sample_plugins:quote", params=("code",))
    ) as ops:
        assert await ops.invoke("q", {"code": "600000"}) == {"found": True, "last": Decimal("12.35")}


async def test_async_plugin_is_awaited(tmp_path: Path) -> None:
    decl = op("q", "python", function="sample_plugins:async_quote", params=("code",))
    async with operations(tmp_path, decl) as ops:
        assert await ops.invoke("q", {"code": "1"}) == {"code": "1"}


async def test_connection_error_is_retried_with_the_same_idempotency_key(tmp_path: Path) -> None:
    decl = op(
        "f", "python", function="sample_plugins:flaky", params=("key",), retries=1, idempotency_key="key"
    )
    async with operations(tmp_path, decl) as ops:
        # "flaky" fails once per key: success on the retry proves the key did not change.
        assert await ops.invoke("f", {}) == "ok after 2"
        assert ops.statistics()["f"].attempts == 2
        assert await ops.invoke("f", {"key": "order-1"}) == "ok after 2"
    assert sample_plugins.CALLS["order-1"] == 2


async def test_other_exceptions_are_permanent_and_named(tmp_path: Path) -> None:
    decl = op("b", "python", function="sample_plugins:broken", params=("code",), retries=3)
    async with operations(tmp_path, decl) as ops:
        with pytest.raises(
            OperationError, match="operation 'b' failed: sample_plugins:broken raised KeyError"
        ):
            await ops.invoke("b", {"code": "x"})
        assert ops.statistics()["b"].attempts == 1


async def test_a_slow_thread_is_abandoned_at_the_timeout(tmp_path: Path) -> None:
    decl = op("s", "python", function="sample_plugins:slow", params=("seconds",), timeout="0.1")
    async with operations(tmp_path, decl) as ops:
        with pytest.raises(OperationTimeout, match=r"operation 's' timed out after 0\.1s"):
            await ops.invoke("s", {"seconds": 0.5})
