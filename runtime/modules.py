"""The module API: what a tenant's Python module gives the server, and what it gets back.

Place: the contract between tenant code and the hosting runtime, as `ivr.runtime.ports` is
between the engine and the adapters. A *module* is a `Module` value (or a function that
returns one, called once per tenant) that a tenant ships either as a file beside its flows
(`module: module.py` in its service file) or as an installed package registered under the
entry-point group `ivr.modules`:

    # pyproject.toml of the tenant's package
    [project.entry-points."ivr.modules"]
    bank_cards = "bank_cards:create"

A module provides:

- `operations`: Python functions the service file declares with `backend: module`. Each is
  called as `function(ctx, **params)` with the declared params and returns a mapping of
  the declared `returns` (money as `Decimal`). A plain `def` runs in a worker thread of the
  tenant's own pool (abandoned if it outlives its timeout); an `async def` runs in the
  call's trio task and must never block. A business refusal is an answer (`ok: false`);
  raising is a failure (the flow's `on_error`, or `on_timeout`): `ConnectionError` and
  `TimeoutError` are retried, anything else is not. Messages may reach logs: no secrets.
- `flows`: the folder of flows, service file and prompts (an installed package ships it).
- `start` / `stop`: awaited once when the tenant starts and stops (create or migrate a
  database, open a client). A `start` that raises or takes too long leaves the tenant
  unavailable; the others serve on.
- `tasks`: background tasks run while the tenant serves (a matching engine, a poller).
  One that raises is logged and started again after a pause; they are cancelled at stop.

`ModuleContext` is everything the server gives a module: its tenant's name, its own data
directory, its settings from the hosting file and a logger. Never the server, the engine
or another tenant.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ENTRY_POINT_GROUP = "ivr.modules"

__all__ = [
    "ENTRY_POINT_GROUP",
    "Hook",
    "Module",
    "ModuleContext",
    "ModuleFactory",
    "Operation",
    "Task",
]


@dataclass(frozen=True)
class ModuleContext:
    """What a module gets: `data_dir` is its own (created before `start`), `settings` are the
    tenant's `settings:` from the hosting file (read-only), `log` is named after the tenant."""

    tenant: str
    data_dir: Path
    settings: Mapping[str, object] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("ivr.tenant"))

    def setting(self, name: str, default: str = "") -> str:
        """A setting as text (`default` when it is not set)."""
        value = self.settings.get(name)
        return default if value is None else str(value)


Operation = Callable[..., object]
"""`function(ctx: ModuleContext, **params) -> Mapping[str, object]`, or an `async def` of that."""

Hook = Callable[[ModuleContext], Awaitable[None]]
"""`async def start(ctx)` / `async def stop(ctx)`."""

Task = Callable[[ModuleContext], Awaitable[None]]
"""`async def task(ctx)`: runs until cancelled."""


@dataclass(frozen=True)
class Module:
    """A tenant's plug-in: operations, flows and lifecycle hooks (see the module docstring)."""

    name: str
    operations: Mapping[str, Operation] = field(default_factory=dict)
    flows: Path | None = None
    start: Hook | None = None
    stop: Hook | None = None
    tasks: Sequence[Task] = ()
    version: str = ""


ModuleFactory = Callable[[], Module]
"""What an entry point may name instead of a `Module`: called once per tenant, so that state
the module keeps (a client, a cache) is never shared between two tenants using one package."""
