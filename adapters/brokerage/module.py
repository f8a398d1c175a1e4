"""The brokerage as a tenant module (`ivr.runtime.modules`): its operations, its database and
its matching engine, started and stopped with the tenant.

Registered as the entry point `brokerage` of the group `ivr.modules` (pyproject.toml); the
service file (`flows/service.yaml`) names it with `module: brokerage` and declares each
operation with `backend: module`. Hosting knows nothing of the brokerage: it calls `create()`
once per tenant, awaits `start` (which creates, migrates and seeds the database in the
tenant's data directory) and runs the `matching` task beside the calls.

Settings (the tenant's `settings:` in the hosting file): `database`, a file name or path
relative to the data directory (default `brokerage.sqlite3`); `matching_interval`, seconds
between ticks of the matching simulator (default 3; 0 turns it off).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import trio

from ivr.adapters.brokerage import operations as ops
from ivr.adapters.brokerage.db import connect, using_database
from ivr.adapters.brokerage.matching import serve_matching
from ivr.runtime.modules import Module, ModuleContext, Operation

DATABASE_FILE = "brokerage.sqlite3"
MATCHING_INTERVAL = 3.0

FUNCTIONS: Mapping[str, Callable[..., dict[str, Any]]] = {
    name: getattr(ops, name) for name in ops.__all__ if name != "BrokerageError"
}


def database(ctx: ModuleContext) -> Path:
    """The tenant's back-office database."""
    return ctx.data_dir / ctx.setting("database", DATABASE_FILE)


def _operation(function: Callable[..., dict[str, Any]]) -> Operation:
    """`function(**params)` as a module operation `(ctx, **params)` on the tenant's database;
    its signature is the function's own with `ctx` first, so `ivr check` can match params."""

    @functools.wraps(function)
    def operation(ctx: ModuleContext, /, **params: object) -> dict[str, Any]:
        with using_database(database(ctx)):
            return function(**params)

    signature = inspect.signature(function)
    ctx = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_ONLY)
    operation.__signature__ = signature.replace(parameters=[ctx, *signature.parameters.values()])  # type: ignore[attr-defined]
    return operation


async def start(ctx: ModuleContext) -> None:
    """Create, migrate and seed the database before the first call."""

    def ready() -> None:
        with connect(database(ctx)):
            pass

    await trio.to_thread.run_sync(ready)
    ctx.log.info("brokerage back office at %s", database(ctx))


async def matching(ctx: ModuleContext) -> None:
    """The matching simulator: fills open orders and moves quotes during trading hours."""
    interval = float(ctx.setting("matching_interval", str(MATCHING_INTERVAL)))
    if interval > 0:
        await serve_matching(interval, database(ctx))


def create() -> Module:
    return Module(
        name="brokerage",
        operations={name: _operation(function) for name, function in FUNCTIONS.items()},
        start=start,
        tasks=(matching,),
    )
