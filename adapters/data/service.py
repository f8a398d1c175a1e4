"""`ServiceOperations`: the real `DataOperations` port, built from the service's declarations.

Place: the composition root calls `ServiceOperations.from_service(...)` at start-up; the
runtime's `lookup` step calls `invoke(name, args)`. Every declaration is checked up front
(backend, its keys, the callable, the database, the parameters) and all problems are raised
together as one `ServiceConfigError`. Each call goes through the retry policy (`policy.py`)
around one backend (`sql.py`, `http.py`, `python.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from ivr.adapters.data.answers import check_answer
from ivr.adapters.data.backend import Backend
from ivr.adapters.data.errors import ServiceConfigError
from ivr.adapters.data.http import HTTP_KEYS, build_http
from ivr.adapters.data.module import MODULE_KEYS, ModuleBinding, build_module
from ivr.adapters.data.policy import (
    OperationStatistics,
    RetryPolicy,
    StatisticsCounter,
    call_with_policy,
    with_idempotency_key,
)
from ivr.adapters.data.python import PYTHON_KEYS, build_python
from ivr.adapters.data.sql import SQL_KEYS, build_sql
from ivr.adapters.data.sqldatabase import Databases
from ivr.flowlang.ir import OperationDecl, Service
from ivr.runtime.ports import DataOperations, OperationError

COMMON_KEYS = frozenset({"idempotency_key", "description"})
BACKEND_KEYS = {"python": PYTHON_KEYS, "sql": SQL_KEYS, "http": HTTP_KEYS, "module": MODULE_KEYS}


@dataclass(frozen=True)
class _Operation:
    decl: OperationDecl
    backend: Backend
    policy: RetryPolicy
    idempotency_key: str | None
    counter: StatisticsCounter


class ServiceOperations:
    """Named data operations with their timeouts, retries and statistics.

    Use as an async context manager (or call `aclose()`) to release connections.
    """

    def __init__(self, operations: Mapping[str, _Operation], resources: _Resources) -> None:
        self._operations = dict(operations)
        self._resources = resources

    @classmethod
    def from_service(
        cls,
        service: Service,
        *,
        base_dir: Path,
        database_url: str | None = None,
        module: ModuleBinding | None = None,
        data_dir: Path | None = None,
    ) -> ServiceOperations:
        """Check and bind every declared operation; raise `ServiceConfigError` listing all problems.

        `module` binds `backend: module` operations to the tenant's module. `data_dir`, when
        given, is where relative SQLite paths point (a hosted tenant's own data directory)
        instead of `base_dir` (the service's folder)."""
        resources = _Resources(base_dir, database_url, data_dir, module)
        operations: dict[str, _Operation] = {}
        problems: list[str] = []
        for name, decl in service.operations.items():
            try:
                operations[name] = _bind(decl, resources)
            except ServiceConfigError as exc:
                problems.extend(f"{decl.span}: operation {name!r}: {p}" for p in exc.problems)
        if problems:
            raise ServiceConfigError(problems)
        return cls(operations, resources)

    async def invoke(self, name: str, args: Mapping[str, object]) -> object:
        """Run the named operation; raise `OperationTimeout` / `OperationError`."""
        operation = self._operations.get(name)
        if operation is None:
            raise OperationError(f"operation {name!r} is not declared in the service")
        args = with_idempotency_key(args, operation.idempotency_key)
        _check_args(operation.decl, args)
        answer = await call_with_policy(
            name, operation.policy, lambda: operation.backend.attempt(args), operation.counter
        )
        return check_answer(operation.decl, answer)

    def statistics(self) -> dict[str, OperationStatistics]:
        """Counters per operation since start-up (calls, attempts, failures, timeouts, latency)."""
        return {name: op.counter.snapshot() for name, op in self._operations.items()}

    async def aclose(self) -> None:
        await self._resources.aclose()

    async def __aenter__(self) -> ServiceOperations:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class _Resources:
    """What operations share: the databases (one pool each) and one HTTP client."""

    def __init__(
        self, base_dir: Path, database_url: str | None, data_dir: Path | None, module: ModuleBinding | None
    ) -> None:
        self.base_dir = base_dir
        self.database_url = database_url
        self.databases = Databases(data_dir or base_dir)
        self.module = module
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            # No httpx timeout: the operation's policy cancels the request from outside.
            self._http = httpx.AsyncClient(timeout=None, follow_redirects=False)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        await self.databases.aclose()


def _bind(decl: OperationDecl, resources: _Resources) -> _Operation:
    policy, key = _check_common(decl)
    if decl.backend == "python":
        backend: Backend = build_python(decl, resources.base_dir)
    elif decl.backend == "sql":
        backend = build_sql(decl, resources.database_url, resources.databases)
    elif decl.backend == "module":
        backend = build_module(decl, resources.module)
    else:
        backend = build_http(decl, resources.http, key)
    return _Operation(decl, backend, policy, key, StatisticsCounter())


def _check_common(decl: OperationDecl) -> tuple[RetryPolicy, str | None]:
    problems: list[str] = []
    if decl.backend not in BACKEND_KEYS:
        problems.append(f"unknown backend {decl.backend!r} (use module, python, sql or http)")
    elif unknown := set(decl.config) - BACKEND_KEYS[decl.backend] - COMMON_KEYS:
        problems.append(f"unknown key(s) for backend {decl.backend}: {', '.join(sorted(unknown))}")
    if decl.timeout <= 0:
        problems.append(f"timeout must be positive, not {decl.timeout}")
    if decl.retries < 0:
        problems.append(f"retries must be 0 or more, not {decl.retries}")
    key = decl.config.get("idempotency_key")
    if key is not None and key not in decl.params:
        problems.append(f"idempotency_key {key!r} must name one of the params {list(decl.params)}")
    if problems:
        raise ServiceConfigError(problems)
    policy = RetryPolicy(timeout=float(decl.timeout), retries=decl.retries)
    return policy, key if isinstance(key, str) else None


def _check_args(decl: OperationDecl, args: Mapping[str, object]) -> None:
    missing = [p for p in decl.params if p not in args]
    extra = [a for a in args if a not in decl.params]
    if missing or extra:
        detail = "; ".join(
            part
            for part in (f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else "")
            if part
        )
        raise OperationError(f"operation {decl.name!r} called with the wrong arguments: {detail}")


def _implements_the_port(operations: ServiceOperations) -> DataOperations:
    return operations  # mypy checks here that ServiceOperations satisfies the runtime's port
