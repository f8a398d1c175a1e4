"""The `module` backend: an operation is a function of the tenant's module (`ivr.runtime.modules`).

Service file keys: `backend: module` and, optionally, `function: <name>` when the module's
operation has another name than the declared one. The function is called as
`function(ctx, **params)` with the tenant's `ModuleContext`. A plain function runs in a
worker thread drawn from the tenant's own `CapacityLimiter`, so a module whose functions hang
can use up only its own threads: the abandoned threads keep their tokens until they end,
and that tenant's next operations wait for a token (then time out on their own policy),
while other tenants and the server's own worker threads are untouched. An `async def`
function runs in the call's task; it is cancelled at the operation's timeout.

Failures are reported by raising, as for the `python` backend: `ConnectionError`,
`TimeoutError` and the runtime's `OperationTimeout` are transient (retried), anything else
permanent. The message names the module's function, never its arguments.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

import trio

from ivr.adapters.data.errors import BackendFailure, ServiceConfigError
from ivr.flowlang.ir import OperationDecl
from ivr.runtime.modules import ModuleContext, Operation
from ivr.runtime.ports import OperationTimeout

MODULE_KEYS = frozenset({"function"})
DEFAULT_THREADS = 8
_TRANSIENT = (ConnectionError, TimeoutError, OperationTimeout)


@dataclass(frozen=True)
class ModuleBinding:
    """A tenant's module as its operations see it: the functions, the context they get, and
    the tenant's own worker-thread limiter."""

    module: str
    operations: Mapping[str, Operation]
    context: ModuleContext
    limiter: trio.CapacityLimiter = field(default_factory=lambda: trio.CapacityLimiter(DEFAULT_THREADS))


class ModuleBackend:
    """One declared operation bound to the module's function."""

    def __init__(self, function: Operation, reference: str, binding: ModuleBinding) -> None:
        self._function = function
        self._reference = reference
        self._binding = binding
        self._is_async = inspect.iscoroutinefunction(function)

    async def attempt(self, args: Mapping[str, object]) -> object:
        ctx = self._binding.context
        try:
            if self._is_async:
                return await cast(Callable[..., Awaitable[object]], self._function)(ctx, **args)
            call = functools.partial(self._function, ctx, **args)
            return await trio.to_thread.run_sync(call, abandon_on_cancel=True, limiter=self._binding.limiter)
        except Exception as exc:
            message = f"{self._reference} raised {type(exc).__name__}: {exc}"
            raise BackendFailure(message, retryable=isinstance(exc, _TRANSIENT)) from exc


def build_module(decl: OperationDecl, binding: ModuleBinding | None) -> ModuleBackend:
    """Bind the declaration to the module's function now; `ServiceConfigError` if it cannot be."""
    if binding is None:
        raise ServiceConfigError(["`backend: module` needs the service's `module:` (none is loaded)"])
    name = decl.config.get("function", decl.name)
    if not isinstance(name, str) or not name:
        raise ServiceConfigError([f"'function' must name an operation of module {binding.module}"])
    function = binding.operations.get(name)
    reference = f"{binding.module}:{name}"
    if function is None:
        known = ", ".join(sorted(binding.operations)) or "none"
        raise ServiceConfigError([f"module {binding.module} has no operation {name!r} (it has: {known})"])
    problem = signature_problem(function, decl.params)
    if problem:
        raise ServiceConfigError([f"{reference} {problem}"])
    return ModuleBackend(function, reference, binding)


def signature_problem(function: Operation, params: tuple[str, ...]) -> str | None:
    """Why `function` cannot be called as `function(ctx, **params)`, or None."""
    try:
        inspect.signature(function).bind(None, **dict.fromkeys(params))
    except TypeError as exc:
        return f"cannot take (ctx, {', '.join(params)}): {exc}"
    except ValueError:
        return None  # no signature to check (some builtins): the first call will tell
    return None
