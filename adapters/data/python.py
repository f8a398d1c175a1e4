"""The `python` backend: an operation is a callable from a plug-in module.

Service file key: `function: package.module:callable` (an attribute path after the colon is
allowed, e.g. `module:Backoffice.quote`). The callable is resolved at start-up and gets the
operation's parameters as keyword arguments. An `async def` callable is awaited in the call's
task (it must be trio-compatible); a plain one runs in a worker thread that is abandoned if
the operation times out, so it must not hold locks that matter across calls.

Plug-ins report failure by raising: `ConnectionError`, `TimeoutError` and the runtime's
`OperationTimeout` count as transient (retried), any other exception as permanent. Its
message may reach logs, so a plug-in must not put secrets in it. Plug-in modules are imported
normally; if one is not found, the service's directory is added to `sys.path` and the import
is tried again, so a service can ship its plug-ins next to its YAML.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import cast

import trio

from ivr.adapters.data.errors import BackendFailure, ServiceConfigError
from ivr.flowlang.ir import OperationDecl
from ivr.runtime.ports import OperationTimeout

PYTHON_KEYS = frozenset({"function"})
_TRANSIENT = (ConnectionError, TimeoutError, OperationTimeout)


class PythonBackend:
    """One declared operation bound to its resolved callable."""

    def __init__(self, function: Callable[..., object], reference: str) -> None:
        self._function = function
        self._reference = reference
        self._is_async = inspect.iscoroutinefunction(function)

    async def attempt(self, args: Mapping[str, object]) -> object:
        try:
            if self._is_async:
                return await cast(Callable[..., Awaitable[object]], self._function)(**args)
            call = functools.partial(self._function, **args)
            return await trio.to_thread.run_sync(call, abandon_on_cancel=True)
        except Exception as exc:
            message = f"{self._reference} raised {type(exc).__name__}: {exc}"
            raise BackendFailure(message, retryable=isinstance(exc, _TRANSIENT)) from exc


def build_python(decl: OperationDecl, base_dir: Path) -> PythonBackend:
    """Resolve and check the callable now; raise `ServiceConfigError` if it cannot be used."""
    reference = decl.config.get("function")
    if not isinstance(reference, str) or reference.count(":") != 1:
        raise ServiceConfigError([f"'function' must be 'package.module:callable', not {reference!r}"])
    function = resolve(reference, base_dir)
    try:
        inspect.signature(function).bind(**dict.fromkeys(decl.params))
    except TypeError as exc:
        problem = f"{reference} cannot take the parameters {list(decl.params)}: {exc}"
        raise ServiceConfigError([problem]) from exc
    except ValueError:
        pass  # no signature to check (some builtins): the first call will tell
    return PythonBackend(function, reference)


def resolve(reference: str, base_dir: Path) -> Callable[..., object]:
    module_name, _, path = reference.partition(":")
    module = _import(module_name, base_dir, reference)
    target: object = module
    for part in path.split("."):
        if part.startswith("_") or not hasattr(target, part):
            raise ServiceConfigError([f"{reference}: {module_name} has no public attribute {path!r}"])
        target = getattr(target, part)
    if not callable(target):
        raise ServiceConfigError([f"{reference} is not callable"])
    return target


def _import(module_name: str, base_dir: Path, reference: str) -> object:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.partition(".")[0]
        local = (base_dir / top).is_dir() or (base_dir / f"{top}.py").is_file()
        if exc.name == top and local and str(base_dir) not in sys.path:
            sys.path.append(str(base_dir))
            return _import(module_name, base_dir, reference)
        raise ServiceConfigError([f"{reference}: cannot import {module_name} ({exc})"]) from exc
    except Exception as exc:
        raise ServiceConfigError([f"{reference}: importing {module_name} failed: {exc!r}"]) from exc
